// The example plans of the repository's plans/ folder, bundled at build time so
// the first screen can create them in one click.
import type { PlanFile, Value } from "../bindings";

const files = import.meta.glob<{ default: Value }>("../../../plans/*.json", { eager: true });

export type Example = { stem: string; name: string; description: string; steps: number; plan: PlanFile };

export const examples: Example[] = Object.entries(files)
  .map(([path, mod]) => {
    const stem = path.replace(/^.*\//, "").replace(/\.json$/, "");
    const plan = mod.default;
    const o = (typeof plan === "object" && plan !== null && !Array.isArray(plan) ? plan : {}) as Record<string, Value>;
    return {
      stem,
      name: typeof o.name === "string" ? o.name : stem,
      description:
        typeof o.description === "string"
          ? o.description
          : typeof o.original_prompt === "string"
            ? o.original_prompt
            : "",
      steps: Array.isArray(o.steps) ? o.steps.length : 0,
      // The repository's example plans are plan files (the tests load every one).
      plan: plan as unknown as PlanFile,
    };
  })
  .sort((a, b) => a.stem.localeCompare(b.stem));
