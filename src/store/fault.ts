// Fault injection for the crash tests (test/integration/crash.test.ts): with
// GROVE_FAULT_KILL_AFTER_OBJECTS=N in the environment, the process SIGKILLs itself right after
// its Nth object is durably renamed into chunks/, so a test kills `grove add` at an exact
// point instead of racing it. Unset (the normal case) it does nothing.

const killAfter = Number(process.env.GROVE_FAULT_KILL_AFTER_OBJECTS ?? 0);
const committed = { count: 0 };

export function objectCommitted(): void {
  if (killAfter > 0 && ++committed.count >= killAfter) process.kill(process.pid, 'SIGKILL');
}
