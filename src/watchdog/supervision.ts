// How a watchdog tells its child cell that it is supervised (docs/operations.md "Exit codes"):
// GROVE_SUPERVISED=1 and GROVE_RESTARTS=<how many times it restarted the cell>.

export const ENV_SUPERVISED = 'GROVE_SUPERVISED';
export const ENV_RESTARTS = 'GROVE_RESTARTS';

export interface Supervision {
  supervised: boolean;
  restarts: number;
}

export function supervisionFromEnv(env: NodeJS.ProcessEnv): Supervision {
  const supervised = env[ENV_SUPERVISED] === '1';
  const n = Number(env[ENV_RESTARTS]);
  return { supervised, restarts: supervised && Number.isSafeInteger(n) && n >= 0 ? n : 0 };
}

export function supervisionEnv(restarts: number): Record<string, string> {
  return { [ENV_SUPERVISED]: '1', [ENV_RESTARTS]: String(restarts) };
}
