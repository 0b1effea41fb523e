import type { ControlRegistry } from '../daemon/control.js';
import type { MdnsDiscovery } from './mdns.js';

// `grove peers --nearby` on the running cell: unpaired cells mDNS has seen lately.
export function registerDiscoveryControl(control: ControlRegistry, discovery: MdnsDiscovery | undefined): void {
  control.register('nearby', () => ({ nearby: discovery?.nearby() ?? [], enabled: discovery !== undefined }));
}
