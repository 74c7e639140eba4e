// Unit: the label rules (core/labels.ts): the library's active label set, specs, top labels.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LABEL_SET_SETTING, activeLabelSetChoice, labelSetSpec, prompts, topLabels } from '../../indexer/core/labels';

describe('the active label set', () => {
  test('what `tag --all` recorded wins over the configured set', () => {
    const spec = { labels: ['red', 'green'], templateSet: 'clip-kinetics' };
    assert.deepEqual(activeLabelSetChoice(JSON.stringify(spec), 'kinetics400'), { spec });
    assert.deepEqual(activeLabelSetChoice(JSON.stringify({ name: 'ucf101', templateSet: 'clip-ucf101' }), 'none'), { spec: { name: 'ucf101', templateSet: 'clip-ucf101' } });
  });
  test('else the configured name; "none" means no tagging', () => {
    assert.deepEqual(activeLabelSetChoice(undefined, 'kinetics700'), { name: 'kinetics700' });
    assert.deepEqual(activeLabelSetChoice(null, 'kinetics400'), { name: 'kinetics400' });
    assert.equal(activeLabelSetChoice('', 'none'), undefined);
    assert.equal(LABEL_SET_SETTING, 'labelSet', 'the setting name is stored in libraries: never renamed');
  });
});

describe('label sets and tags', () => {
  test('a spec names a shipped set (its template set kept) or lists custom labels', () => {
    assert.deepEqual(labelSetSpec({ key: 'kinetics400+actionclip', labels: [], templates: [], templateSet: 'actionclip' }), { name: 'kinetics400', templateSet: 'actionclip' });
    assert.deepEqual(labelSetSpec({ key: 'custom:ab', labels: ['a', 'b'], templates: [], templateSet: 'clip-kinetics' }), { labels: ['a', 'b'], templateSet: 'clip-kinetics' });
  });
  test('prompts: template-major', () => {
    assert.deepEqual(prompts({ key: 'k', labels: ['a', 'b'], templates: ['x {}', '{} y'], templateSet: 'clip-kinetics' }), ['x a', 'x b', 'a y', 'b y']);
  });
  test('top labels: best first, rounded to 6 digits', () => {
    assert.deepEqual(topLabels(['a', 'b', 'c'], Float32Array.from([0.1, 0.7, 0.2]), 2), [
      { label: 'b', score: 0.7 },
      { label: 'c', score: 0.2 },
    ]);
  });
});
