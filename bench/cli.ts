import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { packagePath } from '../src/package-root.js';
import { defaultPlacement, type Placement, placements } from './harness.js';
import { type PartName, partNames } from './results.js';

/** `npm run bench`'s command line (bench/run.ts), apart so that tests can check it without running a bench. */

export const usage = `Usage: node dist/bench/run.js [kernels|http] [--quick] [--out <dir>] [--harness <placement>]

  kernels      run only the kernel suite (tinybench)
  http         run only the HTTP harness (server, autocannon, ping probe, routing with wrk, pool starvation)
  queue        the queue strategy through Redis with 1 and 2 local workers (needs redis-server; not in the default run)
  tail         what keeps the loop's tail up: each off-loop strategy under pool sizes, admission, thread priorities
               (about 10 minutes; not in the default run; changes thread priorities with chrt/renice);
               --only <strategies> --defaults --rounds <n>: a part of it, repeated, into a scratch folder
  --quick      a smoke run (about 3 minutes) into a temporary folder: bench/results is left alone
  --out <dir>  where to write the results (default: bench/results in this package for a full run)
  --harness    where the probe and the load generator run: ${Object.keys(placements).join(', ')}
               (default ${defaultPlacement.name})`;

export const defaultOut = packagePath('bench', 'results');

export interface Cli {
  parts: PartName[];
  quick: boolean;
  /** undefined: the default for the profile (bench/results, or a fresh temporary folder for --quick). */
  out: string | undefined;
  placement: Placement;
}

export function parseCli(argv: string[]): Cli {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      harness: { type: 'string', default: defaultPlacement.name },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  const unknown = positionals.filter((p) => !(partNames as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`unknown part "${unknown[0]}"; the parts are ${partNames.join(', ')}`);
  const parts = positionals.length === 0 ? [...partNames] : partNames.filter((p) => positionals.includes(p));
  const placement = placements[values.harness];
  if (!placement)
    throw new Error(`unknown --harness "${values.harness}"; the placements are ${Object.keys(placements).join(', ')}`);
  return { parts, quick: values.quick, out: values.out === undefined ? undefined : resolve(values.out), placement };
}

/** Only a full run updates the committed results; a quick one writes to a scratch folder unless told otherwise. */
export async function outputFolder(cli: Pick<Cli, 'quick' | 'out'>): Promise<string> {
  if (cli.out !== undefined) return cli.out;
  return cli.quick ? mkdtemp(join(tmpdir(), 'offloop-bench-quick-')) : defaultOut;
}
