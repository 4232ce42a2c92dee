import { readdirSync, readFileSync } from 'node:fs';

/**
 * The threads of a process as Linux schedules them: /proc/<pid>/task/<tid>/stat, field 41
 * (policy: SCHED_OTHER 0, SCHED_BATCH 3, SCHED_IDLE 5), field 19 (nice) and field 3 (state:
 * R running or waiting for a CPU, S asleep, …).
 */
export const linuxPolicy = { normal: 0, batch: 3, idle: 5 } as const;

export interface Thread {
  tid: number;
  name: string;
  nice: number;
  policy: number;
  state: string;
}

export function threads(pid: number | 'self' = 'self'): Thread[] {
  const found: Thread[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      // The name first: pool threads apply their settings, then name themselves, so a name read
      // before the settings vouches for them (read the other way round, a thread that names itself
      // in between shows its new name with its old policy).
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3
      found.push({ tid: Number(tid), name, nice: Number(fields[16]), policy: Number(fields[38]), state: fields[0]! });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return found;
}

/** A pool's threads, once all `count` of them exist (each names itself when it starts). */
export async function poolThreads(prefix: string, count: number, pid: number | 'self' = 'self'): Promise<Thread[]> {
  for (;;) {
    const found = threads(pid).filter((thread) => thread.name.startsWith(prefix));
    if (found.length >= count) return found;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
