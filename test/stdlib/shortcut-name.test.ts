/** `shortcut(name="...")`: naming the projection, so seed 004's `shortcut.0` / `shortcut.1` keys can be produced. */
import { describe, expect, it } from 'vitest';
import { compileSource } from '../../src/api.js';

const BLOCK = (shortcut: string) => `
block Basic(c, stride=1) < conv3x3 c stride=stride; bn; relu; conv3x3 c; bn > + ${shortcut}; relu
net n : [16, 8, 8] < layer1: <Basic(32, stride=2); Basic(32)> >
`;

function compile(text: string) {
  const { graphs, diagnostics } = compileSource(text, '/virtual/shortcut.net');
  return { graph: graphs[0], diagnostics: diagnostics.map((d) => `${d.code} ${d.message}`) };
}

/** Names of the nodes with weights, other than the body's conv1/bn1/conv2/bn2. */
const projection = (text: string) =>
  compile(text)
    .graph!.nodes.filter((n) => n.weights.length && !/\.(conv|bn)\d$/.test(n.name))
    .map((n) => n.name);

describe('shortcut projection names', () => {
  it('is downsample by default (torchvision)', () => {
    const { graph, diagnostics } = compile(BLOCK('shortcut'));
    expect(diagnostics).toEqual([]);
    // The second block's shortcut is the identity: no state.
    expect(projection(BLOCK('shortcut'))).toEqual(['layer1.0.downsample.0', 'layer1.0.downsample.1']);
    expect(graph!.nodes.filter((n) => n.op === 'conv')).toHaveLength(5);
  });

  it.each(['shortcut(name="shortcut")', 'shortcut name="shortcut"'])('can be chosen: %s', (sc) => {
    expect(compile(BLOCK(sc)).diagnostics).toEqual([]);
    expect(projection(BLOCK(sc))).toEqual(['layer1.0.shortcut.0', 'layer1.0.shortcut.1']);
  });

  it('can come from a block parameter', () => {
    const text = `
block B(c, stride=1, proj="downsample") < conv3x3 c stride=stride; bn > + shortcut(name=proj)
net n : [16, 8, 8] < b: B(32, stride=2, proj="skip") >
`;
    expect(compile(text).diagnostics).toEqual([]);
    expect(
      compile(text)
        .graph!.nodes.filter((n) => n.op === 'conv')
        .map((n) => n.name),
    ).toEqual(['b.conv1', 'b.skip.0']);
  });

  it('rejects a name that is not an identifier string', () => {
    expect(compile(BLOCK('shortcut(name=3)')).diagnostics).toEqual(['NET1003 `shortcut` name must be a string holding an identifier, got the integer 3']);
    expect(compile(BLOCK('shortcut(name="a.b")')).diagnostics[0]).toMatch(/^NET1016 /);
  });

  it('rejects other arguments, in a library file too', () => {
    const lib = 'block Basic(c)< conv3x3 c; bn; relu; conv3x3 c; bn > + shortcut(kind="x")';
    expect(compile(lib).diagnostics).toEqual(['NET1002 `shortcut` has no parameter `kind`']);
    expect(compile(BLOCK('shortcut("x")')).diagnostics).toEqual(['NET1002 `shortcut` takes 0 positional arguments, got 1']);
  });
});
