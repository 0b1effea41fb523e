import type { Command } from 'commander';
import { peerView, type PeerView } from '../../peers/probe.js';
import { PeerRegistry, normalizeRouteUrl, isRouteKind } from '../../peers/registry.js';
import { termSafe } from '../term.js';
import { emit, homeDir, withHome } from '../context.js';
import { homePaths } from '../../home/paths.js';
import { callControl } from '../../daemon/control-client.js';
import type { NearbyCell } from '../../discovery/mdns.js';
import { daemonOr } from '../cell.js';
import { usage } from '../../errors.js';
import type { RouteKind } from '../../peers/route-score.js';

// `grove peers`, `grove prefer PEER`, `grove route add|rm PEER URL` (docs/design.md §4).

function fmt(n: number | null, unit: string, digits = 1): string {
  return n === null ? '-' : `${n.toFixed(digits)}${unit}`;
}

function human(peers: PeerView[]): string {
  if (!peers.length) return 'no peers yet: pair with `grove invite` / `grove pair CODE`';
  const lines: string[] = [];
  for (const p of peers) {
    const flags = [p.online ? 'online' : 'offline', p.preferred ? 'preferred' : '', p.uptime === null ? '' : `uptime ${(p.uptime * 100).toFixed(1)}%`].filter(Boolean).join(', ');
    lines.push(`${termSafe(p.name)}  ${p.id}  (${flags})`);
    for (const r of p.routes) {
      const best = r.url === p.best_route ? ' * in use' : '';
      lines.push(`  ${termSafe(r.url)}  ${r.kind}  latency ${fmt(r.latency_ms, ' ms')}  throughput ${fmt(r.throughput_MBps, ' MB/s')}  score ${fmt(r.score, '', 2)}${best}${r.error ? `  (${termSafe(r.error)})` : ''}`);
    }
  }
  return lines.join('\n');
}

export function registerPeers(program: Command): void {
  program
    .command('peers')
    .description('list paired cells, their routes and recorded health')
    .option('--probe', 'probe every route (and benchmark the due ones) first')
    .option('--nearby', 'unpaired cells the running cell found on the LAN (mDNS)')
    .action(async (opts: { probe?: boolean; nearby?: boolean }, cmd: Command) => {
      if (opts.nearby) {
        const n = await callControl<{ nearby: NearbyCell[]; enabled: boolean }>(homePaths(homeDir(cmd)), 'nearby', {});
        emit(cmd, { nearby: n.nearby }, n.nearby.length
          ? n.nearby.map((c) => `${c.name || '-'}  ${c.id}  ${c.addresses.join(' ')}`).join('\n')
          : `no unpaired cells seen nearby${n.enabled ? '' : ' (mDNS is off: mdns.enabled is false or the API listens on loopback)'}`);
        return;
      }
      const r = await daemonOr(cmd, 'peers', { probe: !!opts.probe }, async (cell) => {
        if (opts.probe) await cell.probeAndBench();
        return { peers: cell.peers.list().map((p) => peerView(cell, p)) };
      });
      emit(cmd, r, human(r.peers));
    });

  program
    .command('prefer <peer>')
    .description('always place copies on this peer first (--off to stop)')
    .option('--off', 'no longer prefer it')
    .action(async (arg: string, opts: { off?: boolean }, cmd: Command) => {
      await withHome(cmd, (home) => {
        const reg = new PeerRegistry(home.db, Date.now);
        const p = reg.resolve(arg);
        reg.setPreferred(p.id, !opts.off);
        emit(cmd, { id: p.id, name: p.name, preferred: !opts.off }, `${p.name} is ${opts.off ? 'no longer' : 'now'} a preferred peer`);
      });
    });

  const route = program.command('route').description("add or remove a peer's routes");
  route
    .command('add <peer> <url>')
    .description('add a route (base URL, e.g. http://10.0.0.5:7420) to a peer')
    .option('--kind <kind>', 'direct | mdns | relay', 'direct')
    .action(async (arg: string, url: string, opts: { kind: string }, cmd: Command) => {
      if (!isRouteKind(opts.kind)) throw usage('--kind must be direct, mdns or relay');
      const kind: RouteKind = opts.kind;
      await withHome(cmd, (home) => {
        const reg = new PeerRegistry(home.db, Date.now);
        const p = reg.resolve(arg);
        const norm = normalizeRouteUrl(url);
        const added = reg.addRoute(p.id, norm, kind);
        emit(cmd, { id: p.id, url: norm, kind, added }, added ? `added route ${norm} to ${p.name}` : `${p.name} already has route ${norm}`);
      });
    });
  route
    .command('rm <peer> <url>')
    .description('remove a route from a peer')
    .action(async (arg: string, url: string, _opts: unknown, cmd: Command) => {
      await withHome(cmd, (home) => {
        const reg = new PeerRegistry(home.db, Date.now);
        const p = reg.resolve(arg);
        const norm = normalizeRouteUrl(url);
        const removed = reg.removeRoute(p.id, norm);
        if (!removed) throw usage(`${p.name} has no route ${norm}`);
        emit(cmd, { id: p.id, url: norm, removed }, `removed route ${norm} from ${p.name}`);
      });
    });
}
