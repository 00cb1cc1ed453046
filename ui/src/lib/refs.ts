// References to earlier steps' results: `${steps.N.output}` and paths into it,
// with a preview of the value they would take (from the last run or a test).
import type { Value } from "../bindings";
import { isObject } from "./plan";

export type RefOption = {
  /** The text inserted: `${steps.0.output.items[0].title}`. */
  ref: string;
  /** The path shown in the list: `output.items[0].title`. */
  label: string;
  /** The value it had, as short text; null when there is nothing to show. */
  preview: string | null;
  depth: number;
};

/** An earlier step's references, for the picker. `source` says where the previews come from. */
export type RefGroup = { index: number; title: string; source: string | null; options: RefOption[] };

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function keySegment(key: string): string {
  return IDENT.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

export function refFor(stepIndex: number, path = "", field: "output" | "metadata" | "message" | "success" | "error" = "output"): string {
  return `\${steps.${stepIndex}.${field}${path}}`;
}

export function previewText(v: Value | undefined, max = 80): string {
  if (v === undefined) return "";
  const s = typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v);
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}

/** A string holding JSON is parsed first, as the engine's paths do. */
function explorable(v: Value | undefined): Value | undefined {
  if (typeof v === "string") {
    const t = v.trim();
    if ((t.startsWith("{") && t.endsWith("}")) || (t.startsWith("[") && t.endsWith("]"))) {
      try {
        return JSON.parse(t) as Value;
      } catch {
        return v;
      }
    }
  }
  return v;
}

/**
 * The references a step can insert for an earlier step: the whole output, then
 * paths into it (objects' keys, the first item of lists), a few levels deep.
 */
export function refOptions(stepIndex: number, output: Value | undefined, limit = 40, maxDepth = 3): RefOption[] {
  const options: RefOption[] = [
    {
      ref: refFor(stepIndex),
      label: "output",
      preview: output === undefined ? null : previewText(output),
      depth: 0,
    },
  ];
  const walk = (v: Value | undefined, path: string, depth: number) => {
    if (depth > maxDepth || options.length >= limit) return;
    const value = depth === 1 ? explorable(v) : v;
    if (Array.isArray(value)) {
      if (value.length === 0) return;
      const p = `${path}[0]`;
      options.push({ ref: refFor(stepIndex, p), label: `output${p}`, preview: previewText(value[0]), depth });
      walk(value[0], p, depth + 1);
    } else if (isObject(value)) {
      for (const key of Object.keys(value)) {
        if (options.length >= limit) return;
        const p = path + keySegment(key);
        options.push({ ref: refFor(stepIndex, p), label: `output${p}`, preview: previewText(value[key]), depth });
        walk(value[key], p, depth + 1);
      }
    }
  };
  walk(output, "", 1);
  return options;
}

/** Insert `text` into `value` over the selection [start, end). */
export function insertAt(value: string, text: string, start: number | null, end: number | null): { value: string; caret: number } {
  const s = start ?? value.length;
  const e = end ?? s;
  return { value: value.slice(0, s) + text + value.slice(e), caret: s + text.length };
}
