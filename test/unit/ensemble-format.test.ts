import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluationFromProbs } from '../../src/evaluate/metrics.js';
import { formatMembers } from '../../src/evaluate/ensemble.js';

test("an ensemble's member table keeps its columns aligned whatever the names' lengths", () => {
  const probs = new Float32Array([0.9, 0.1, 0.2, 0.8]);
  const result = evaluationFromProbs(probs, new Uint8Array([0, 1]), { phase: 'final', epoch: 0 });
  const members = [
    { runDir: 'a', model: 'best', test_loss: 0.25, test_acc: 0.9508 },
    { runDir: 'runs/b', model: 'best-wide', test_loss: 0.2325, test_acc: 0.9499 },
  ];
  const lines = formatMembers({ result, tta: 'flip', members }).split('\n');
  assert.equal(lines.length, 5);
  // Every row's accuracy ends in the same column as the header's "test acc".
  const accEnd = lines[0].indexOf('test acc') + 'test acc'.length;
  for (const [i, l] of lines.slice(1).entries()) {
    assert.match(l.slice(0, accEnd), /\d+\.\d\d%$/, `row ${i + 1}: ${JSON.stringify(l)}`);
  }
  assert.ok(lines[1].startsWith('a '), lines[1]);
  assert.ok(lines[3].startsWith('mean of members  '), lines[3]);
});
