// Prints jest's JSON result as one plain line: "N passed, N failed" (CI reads it).
const fs = require('node:fs');
const file = process.argv[2] ?? '.tmp/jest-results.json';
if (!fs.existsSync(file)) {
  console.log('0 passed, 1 failed');
  process.exit(0);
}
const r = JSON.parse(fs.readFileSync(file, 'utf8'));
const failed = r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
console.log(`${r.numPassedTests} passed, ${failed} failed`);
