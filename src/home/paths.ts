import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** docs/design.md §1: `--home DIR`, else `$GROVE_HOME`, else `~/.grove`. */
export function resolveHome(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag);
  if (env.GROVE_HOME) return resolve(env.GROVE_HOME);
  return join(homedir(), '.grove');
}

export interface HomePaths {
  root: string;
  nodeKey: string;
  x25519Key: string;
  masterKey: string;
  peerSecret: string;
  dashboardAuth: string;
  config: string;
  db: string;
  peerSpeeds: string;
  peerHealth: string;
  chunks: string;
  trash: string;
  logs: string;
  control: string;
  pid: string;
}

export function homePaths(root: string): HomePaths {
  return {
    root,
    nodeKey: join(root, 'node.key'),
    x25519Key: join(root, 'node_x25519.key'),
    masterKey: join(root, '.key'),
    peerSecret: join(root, 'peer_secret'),
    dashboardAuth: join(root, 'dashboard_auth'),
    config: join(root, 'config.json'),
    db: join(root, 'placement.db'),
    peerSpeeds: join(root, 'peer_speeds.json'),
    peerHealth: join(root, 'peer_health.json'),
    chunks: join(root, 'chunks'),
    trash: join(root, 'trash'),
    logs: join(root, 'logs'),
    control: join(root, 'control.sock'),
    pid: join(root, 'cell.pid'),
  };
}
