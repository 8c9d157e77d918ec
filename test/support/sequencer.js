// Runs test files in name order, except the replay test, which must come last: it replays the
// histories of every workflow the other files ran.
const Sequencer = require('@jest/test-sequencer').default;

class HeraldSequencer extends Sequencer {
  sort(tests) {
    const isLast = (t) => t.path.includes('replay');
    return [...tests].sort((a, b) => Number(isLast(a)) - Number(isLast(b)) || a.path.localeCompare(b.path));
  }
}

module.exports = HeraldSequencer;
