/**
 * A success or failure condition on a number: `< 0.05`, `>= 0.99`, `== 1`. Parsed, never
 * evaluated as code.
 */
export type Comparator = '<' | '<=' | '>' | '>=' | '==' | '!=';
export interface Condition {
  op: Comparator;
  value: number;
  text: string;
}

const CONDITION = /^\s*(<=|>=|==|!=|<|>)\s*(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$/;

export function parseCondition(text: string): Condition | null {
  const m = CONDITION.exec(text);
  if (!m) return null;
  return { op: m[1] as Comparator, value: Number(m[2]), text: `${m[1]} ${m[2]}` };
}

export function meets(x: number, c: Condition): boolean {
  switch (c.op) {
    case '<':
      return x < c.value;
    case '<=':
      return x <= c.value;
    case '>':
      return x > c.value;
    case '>=':
      return x >= c.value;
    case '==':
      return x === c.value;
    case '!=':
      return x !== c.value;
  }
}
