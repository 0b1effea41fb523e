import type { ControlRegistry } from '../daemon/control.js';
import { badInput } from '../errors.js';
import type { DeleteService } from './service.js';

// Control commands for `grove delete`, `grove undelete`, `grove trash` on the running cell.

function files(p: Record<string, unknown>): string[] {
  if (!Array.isArray(p.files) || p.files.length === 0 || p.files.length > 100_000 || !p.files.every((f) => typeof f === 'string' && f.length > 0 && f.length <= 4096)) {
    throw badInput('give one or more files');
  }
  return p.files as string[];
}

function version(p: Record<string, unknown>): number | undefined {
  if (p.version === undefined || p.version === null) return undefined;
  if (!Number.isSafeInteger(p.version) || (p.version as number) < 1) throw badInput('version must be a positive integer');
  return p.version as number;
}

export function registerDeleteControl(control: ControlRegistry, d: DeleteService): void {
  control.register('delete', (p, { signal }) => d.delete(files(p), { version: version(p), yes: p.yes === true, signal }));
  control.register('undelete', (p, { signal }) => d.undelete(files(p)[0]!, { version: version(p), signal }));
  control.register('trash', () => d.trash());
  control.register('trash-collect', () => d.collect());
}
