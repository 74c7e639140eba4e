// Distinct, realistic search queries ("a dog catching a frisbee on the beach"), so that every
// uncached measurement really runs the text encoder.
const SUBJECTS = ['a dog', 'two kids', 'a woman', 'an old man', 'a cat', 'a cyclist', 'a crowd', 'a red car', 'a small boat', 'my grandmother', 'a toddler', 'a horse'];
const ACTIONS = ['catching a frisbee', 'blowing out birthday candles', 'dancing', 'jumping into a pool', 'riding a bike', 'playing guitar', 'opening presents', 'running', 'laughing', 'cooking pasta'];
const PLACES = ['on the beach', 'in the snow', 'at a wedding', 'in the kitchen', 'at night', 'in the park', 'on a mountain trail', 'in the rain', 'at the zoo', 'by the lake'];

export function queries(n: number, offset = 0): string[] {
  const out: string[] = [];
  for (let i = offset; out.length < n; i++) {
    const s = SUBJECTS[i % SUBJECTS.length];
    const a = ACTIONS[Math.floor(i / SUBJECTS.length) % ACTIONS.length];
    const p = PLACES[Math.floor(i / (SUBJECTS.length * ACTIONS.length)) % PLACES.length];
    out.push(`${s} ${a} ${p}`);
  }
  return out;
}
