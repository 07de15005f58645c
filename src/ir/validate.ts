import type { IRGraph, Shape } from './types.js';
import { isGraphInput } from '../ops/index.js';

/**
 * Structural invariants of an IR graph; returns one line per violation (empty: valid).
 * Run by the tests over every network; passes after elaboration may assume all of these.
 *
 * - node ids are their indices, and nodes are in a topological order (inputs refer to earlier nodes);
 * - exactly the `input` nodes have no inputs;
 * - shapes are `[C, H, W]` or `[F]` of positive safe integers, or null (unknown after an error);
 * - names are non-empty, and unique among nodes that carry weights (they become state-dict keys);
 * - modules: ids are their indices, `output`/`closesAfter` name existing nodes, the parent chain is
 *   acyclic, and each node's `module` exists;
 * - spans are well-formed (0 <= start <= end); weights have positive dimensions.
 */
export function validateGraph(graph: IRGraph): string[] {
  const problems: string[] = [];
  const n = graph.nodes.length;
  const isIndex = (i: unknown, limit: number): i is number => Number.isInteger(i) && (i as number) >= 0 && (i as number) < limit;

  if (n === 0) problems.push('the graph has no nodes');
  if (!isShape(graph.input)) problems.push(`input shape ${show(graph.input)} is not [C, H, W] or [F] of positive integers`);
  if (!isIndex(graph.output, n)) problems.push(`output ${graph.output} is not a node`);

  const weightNames = new Map<string, number>();
  graph.nodes.forEach((node, index) => {
    const where = `node ${index} (${node.op} \`${node.name}\`)`;
    if (node.id !== index) problems.push(`${where}: id ${node.id} differs from its index`);
    if (isGraphInput(node)) {
      if (node.inputs.length !== 0) problems.push(`${where}: an input node has inputs`);
    } else if (node.inputs.length === 0) {
      problems.push(`${where}: has no inputs`);
    }
    for (const i of node.inputs) {
      if (!isIndex(i, n)) problems.push(`${where}: input ${i} is not a node`);
      else if (i >= index) problems.push(`${where}: input ${i} does not come earlier (not topological)`);
    }
    if (node.shape !== null && !isShape(node.shape, [1, 2, 3]))
      problems.push(`${where}: shape ${show(node.shape)} is not [C, H, W], [L, D] or [F] of positive safe integers`);
    if (!node.name) problems.push(`${where}: has no name`);
    if (node.weights.length > 0) {
      const previous = weightNames.get(node.name);
      if (previous !== undefined) problems.push(`${where}: name \`${node.name}\` is also node ${previous}'s (weights would collide)`);
      else weightNames.set(node.name, index);
    }
    for (const w of node.weights) {
      if (w.shape.length === 0 || w.shape.some((d) => !Number.isSafeInteger(d) || d < 1)) {
        problems.push(`${where}: weight \`${w.name}\` has shape ${show(w.shape)}`);
      }
    }
    if (node.module !== null && !isIndex(node.module, graph.modules.length)) problems.push(`${where}: module ${node.module} does not exist`);
    if (!(Number.isInteger(node.span.start) && node.span.start >= 0 && node.span.end >= node.span.start)) {
      problems.push(`${where}: span ${node.span.start}..${node.span.end} is malformed`);
    }
    if (!Number.isSafeInteger(node.macs) || node.macs < 0) problems.push(`${where}: macs ${node.macs} is not a non-negative integer`);
  });

  graph.modules.forEach((m, index) => {
    const where = `module ${index} (${m.type} \`${m.name}\`)`;
    if (m.id !== index) problems.push(`${where}: id ${m.id} differs from its index`);
    if (!isIndex(m.output, n)) problems.push(`${where}: output ${m.output} is not a node`);
    if (!isIndex(m.closesAfter, n)) problems.push(`${where}: closesAfter ${m.closesAfter} is not a node`);
    if (m.parent !== null && !isIndex(m.parent, graph.modules.length)) {
      problems.push(`${where}: parent ${m.parent} does not exist`);
      return;
    }
    const seen = new Set<number>([index]);
    for (let p = m.parent; p !== null; p = graph.modules[p]?.parent ?? null) {
      if (seen.has(p)) {
        problems.push(`${where}: its parent chain is cyclic`);
        break;
      }
      seen.add(p);
    }
  });
  return problems;
}

/** The net's input is [C, H, W] or [F]; a node's value may also be a sequence [L, D]. */
function isShape(shape: Shape | null | undefined, ranks = [1, 3]): boolean {
  return Array.isArray(shape) && ranks.includes(shape.length) && shape.every((d) => Number.isSafeInteger(d) && d >= 1);
}

function show(value: unknown): string {
  return JSON.stringify(value);
}
