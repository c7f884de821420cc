/** The command line in this process, through its exported main(argv): flag errors, `models --json`, the help texts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runMain } from '../helpers/cli.js';

const badInvocations: [string, string[], RegExp][] = [
  ['unknown model', ['train', '--model', 'resnet'], /unknown model "resnet"/],
  ['negative epochs', ['train', '--model', 'cnn1', '--epochs', '-3'], /epochs/],
  ['non-numeric batch size', ['train', '--model', 'cnn1', '--batch-size', 'big'], /positive integer/],
  ['validation split out of range', ['train', '--model', 'cnn1', '--val-split', '1.5'], /from 0 to 1/],
  ['missing model', ['train'], /needs --model/],
  ['bad lr schedule', ['train', '--model', 'cnn1', '--lr-schedule', 'wobble'], /lr-schedule/],
  ['unknown backend', ['train', '--model', 'cnn1', '--backend', 'gpu'], /backend/],
  ['missing run dir', ['evaluate', '/nonexistent/run'], /does not exist/],
  ['resume without run dir', ['train', '--model', 'cnn1', '--resume'], /--run-dir/],
  ['vgg19 weights file missing', ['train', '--model', 'vgg19', '--weights', '/nonexistent/vgg19.h5'], /vgg19: weights file \/nonexistent\/vgg19\.h5 does not exist/],
  ['model option for a CNN', ['train', '--model', 'cnn1', '--backbone', 'x'], /--backbone: for transfer models only/],
  ['unknown command', ['fly'], /unknown command/],
  // --erase 0 is accepted (it turns a recipe's erasing off): the error is the one that comes after the flags are read.
  ['erase 0 parses, nothing to train', ['train', '--model', 'best', '--erase', '0', '--aug-epochs', '0'], /^fashion-cnn: nothing to train/],
  ['unknown optimizer', ['train', '--model', 'cnn1', '--optimizer', 'rmsprop'], /optimizer/],
  ['weight decay with adam', ['train', '--model', 'cnn1', '--weight-decay', '0.1'], /--weight-decay is for --optimizer adamw or sgd, not adam/],
  ['momentum without sgd', ['train', '--model', 'cnn1', '--optimizer', 'adamw', '--momentum', '0.9'], /--momentum and --nesterov are for --optimizer sgd/],
  ['momentum out of range', ['train', '--model', 'cnn1', '--optimizer', 'sgd', '--momentum', '1.5'], /from 0 to 1/],
  ['label smoothing of 1', ['train', '--model', 'cnn1', '--label-smoothing', '1'], /below 1/],
  ['unknown bench backend', ['bench', '--backends', 'native,gpu'], /unknown backend "gpu"/],
];

for (const [name, args, pattern] of badInvocations) {
  test(`bad input exits non-zero with one clear line: ${name}`, async () => {
    const r = await runMain(args);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at .+\(.+:\d+:\d+\)/, 'no stack trace');
    assert.equal(r.stdout, '');
  });
}

test('models --json lists the three CNNs with the article\'s parameter counts', async () => {
  const r = await runMain(['models', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { models } = JSON.parse(r.stdout);
  const byName = Object.fromEntries(models.map((m: { name: string; params: unknown }) => [m.name, m.params]));
  assert.deepEqual(byName.cnn1, { total: 693_962, trainable: 693_962, nonTrainable: 0 });
  assert.deepEqual(byName.cnn3, { total: 241_546, trainable: 241_546, nonTrainable: 0 });
  assert.deepEqual(byName.cnn4, { total: 1_221_546, trainable: 1_219_754, nonTrainable: 1_792 });
});

test('--help explains every command', async () => {
  const r = await runMain(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['data', 'models', 'train', 'evaluate', 'predict', 'compare', 'embed', 'bench']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
  const t = await runMain(['train', '--help']);
  assert.match(t.stdout, /--aug-epochs/);
  assert.match(t.stdout, /--resume/);
});

test('help texts state the defaults the stages use (the CLI does not load the stages to show them)', async () => {
  const { DEFAULT_EMBED_COUNT, DEFAULT_EMBED_SEED, MAX_EMBED_COUNT } = await import('../../src/explain/embed/run.js');
  const { DEFAULT_THROUGHPUT } = await import('../../src/bench/throughput.js');
  const embed = await runMain(['embed', '--help']);
  assert.match(embed.stdout.replace(/\s+/g, ' '), new RegExp(`--count <n> .*\\(default ${DEFAULT_EMBED_COUNT}, at most ${MAX_EMBED_COUNT}\\)`));
  assert.match(embed.stdout.replace(/\s+/g, ' '), new RegExp(`--seed <n> .*\\(default ${DEFAULT_EMBED_SEED}\\)`));
  const bench = await runMain(['bench', '--help']);
  assert.match(bench.stdout.replace(/\s+/g, ' '), new RegExp(`--steps <n> .*default ${DEFAULT_THROUGHPUT.trainSteps}\\)`));
});
