import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';
import { advertisedRoutes, derivedRoutes } from './advertise.js';

const iface = (address: string, family: 'IPv4' | 'IPv6', internal: boolean) =>
  ({ address, family, internal, netmask: '', mac: '', cidr: null }) as unknown as NetworkInterfaceInfo;

const IFACES = {
  lo: [iface('127.0.0.1', 'IPv4', true), iface('::1', 'IPv6', true)],
  eth0: [iface('192.168.1.5', 'IPv4', false), iface('fe80::1', 'IPv6', false)],
  wg0: [iface('10.8.0.2', 'IPv4', false)],
};

test('a wildcard listener advertises every non-loopback IPv4 address, never loopback', () => {
  assert.deepEqual(derivedRoutes('0.0.0.0', 7420, IFACES), ['https://10.8.0.2:7420', 'https://192.168.1.5:7420']);
  assert.deepEqual(derivedRoutes('::', 1, IFACES), ['https://10.8.0.2:1', 'https://192.168.1.5:1']);
});

test('a machine with only loopback advertises loopback (cells on it can still pair)', () => {
  assert.deepEqual(derivedRoutes('0.0.0.0', 7420, { lo: IFACES.lo }), ['https://127.0.0.1:7420']);
});

test('a loopback-only listener advertises loopback only, whatever the interfaces', () => {
  assert.deepEqual(derivedRoutes('127.0.0.1', 7420, IFACES), ['https://127.0.0.1:7420']);
  assert.deepEqual(derivedRoutes('localhost', 7420, IFACES), ['https://localhost:7420']);
});

test('a specific host is advertised as is; api.advertise wins', () => {
  assert.deepEqual(derivedRoutes('127.0.0.1', 9, IFACES), ['https://127.0.0.1:9']);
  assert.deepEqual(derivedRoutes('fd00::5', 9, IFACES), ['https://[fd00::5]:9']);
  assert.deepEqual(advertisedRoutes(['https://grove.example.org/', 'https://grove.example.org'], '0.0.0.0', 7420, IFACES), ['https://grove.example.org']);
});
