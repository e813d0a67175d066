// Mocha reporter: the usual `spec` output, plus the pass/fail counts appended to the file named by
// SYNCFLOW_TEST_SUMMARY so that hack/test.sh can total every suite into one line for CI.
'use strict';
const fs = require('node:fs');
const Mocha = require('mocha');

const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const file = process.env.SYNCFLOW_TEST_SUMMARY;
      if (!file) return;
      const { passes, failures, pending } = runner.stats ?? this.stats;
      const suite = process.env.SYNCFLOW_TEST_SUITE || 'mocha';
      fs.appendFileSync(file, `${suite} ${passes} ${failures} ${pending}\n`);
    });
  }
}

module.exports = SummaryReporter;
