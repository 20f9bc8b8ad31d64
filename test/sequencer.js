// Runs the longest test files first, so that no worker is left with one at the end of a run while the
// others sit idle. Jest does that from the durations it saved on an earlier run; on a fresh clone (or
// a CI runner with an empty cache) it has none and orders by file size, which started the first-start
// suite, a small file and the longest of all, last: a minute with one core busy.
//
// Without a saved duration, a file's duration is taken from EXPECTED below (seconds, measured on a
// 2-core machine), else guessed from its size. Saved durations win as soon as there are any.
const TestSequencer = require('@jest/test-sequencer').default;

/** The files that take longest, by what they wait on: hub processes, trainings, load, real cron ticks. */
const EXPECTED = {
  'test/e2e/first-start.e2e.ts': 60,
  'test/e2e/inference.e2e.ts': 24,
  'test/e2e/connectors.e2e.ts': 21,
  'test/e2e/connectors-vendors.e2e.ts': 20,
  'test/e2e/fuzz.e2e.ts': 19,
  'test/e2e/connector-schedules.e2e.ts': 16,
  'test/e2e/datasets.e2e.ts': 16,
  'test/e2e/shutdown.e2e.ts': 15,
  'test/e2e/monitoring.e2e.ts': 12,
  'test/e2e/db-faults.e2e.ts': 12,
  'test/e2e/rollouts.e2e.ts': 12,
  'connectors/hubspot/hubspot.spec.ts': 10,
  'connectors/uipath/uipath.spec.ts': 10,
  'test/e2e/role-matrix.e2e.ts': 10,
  'test/e2e/replicas.e2e.ts': 9,
};

/** A guess for the rest, below every expected one: a second per 10 kB of test source. */
const guess = (bytes) => Math.min(bytes / 10_000, 8);

class LongestFirst extends TestSequencer {
  time(test) {
    const saved = super.time(test);
    if (saved != null) return saved;
    const relative = test.path
      .slice(test.context.config.rootDir.length + 1)
      .split('\\')
      .join('/');
    const expected = EXPECTED[relative];
    return 1000 * (expected ?? guess(test.context.hasteFS.getSize(test.path) ?? 0));
  }
}

module.exports = LongestFirst;
