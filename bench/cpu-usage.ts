// CPU accounting for a measurement window, from /proc: the server child's CPU time
// (all its threads, GC included), this process's (the load generator), and the whole
// machine's busy time, so a run shows what each side cost per call and whether other
// work on this shared machine was competing.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number.parseInt(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim(), 10) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of a process in microseconds; undefined when it cannot be read. */
export function processCpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces; fields start after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1e6) / clockTicks();
  } catch {
    return undefined;
  }
}

/** Busy and total CPU time of the whole machine, in microseconds (all cores). */
export function machineCpuMicros(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    // user nice system idle iowait irq softirq steal (guest is already in user)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const scale = 1e6 / clockTicks();
    return { busy: (total - idle) * scale, total: total * scale };
  } catch {
    return undefined;
  }
}

export interface CpuSnapshot {
  readonly serverMicros: number | undefined;
  readonly clientMicros: number;
  readonly machine: { busy: number; total: number } | undefined;
}

export function cpuSnapshot(serverPid: number): CpuSnapshot {
  const self = process.cpuUsage();
  return { serverMicros: processCpuMicros(serverPid), clientMicros: self.user + self.system, machine: machineCpuMicros() };
}

export interface CpuWindow {
  /** CPU time of the server child during the window, µs (undefined: unreadable). */
  readonly serverMicros: number | undefined;
  /** CPU time of the load generator during the window, µs. */
  readonly clientMicros: number;
  /** Busy CPU time of the whole machine during the window, µs. */
  readonly machineBusyMicros: number | undefined;
  /** Total CPU time the machine had during the window (cores × wall), µs. */
  readonly machineTotalMicros: number | undefined;
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuWindow {
  return {
    serverMicros: a.serverMicros !== undefined && b.serverMicros !== undefined ? b.serverMicros - a.serverMicros : undefined,
    clientMicros: b.clientMicros - a.clientMicros,
    machineBusyMicros: a.machine && b.machine ? b.machine.busy - a.machine.busy : undefined,
    machineTotalMicros: a.machine && b.machine ? b.machine.total - a.machine.total : undefined,
  };
}
