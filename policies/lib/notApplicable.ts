import type { Policy, ResourceValidation } from "@pulumi/policy";

/**
 * The SDK says "this policy does not apply to this resource" by throwing an
 * error, and an error captures (and, under ts-node, source-maps) a stack:
 * with 35 policies that was most of the pack's time per resource (see
 * BENCHMARKS.md, policy evaluation). Each resource validation here runs
 * with no stack capture; a real failure (anything but "not applicable") is
 * run once more with stacks, so a bug in a policy still reports where it is.
 */
function withoutStacks(fn: ResourceValidation): ResourceValidation {
  const wrapped: ResourceValidation = (args, report) => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return fn(args, report);
    } catch (e) {
      if ((e as Error | undefined)?.constructor?.name === "NotApplicableError") throw e;
      Error.stackTraceLimit = limit;
      return fn(args, report);
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
  // Keep the type the SDK reads to skip a single-type policy without calling it.
  const type = (fn as { __pulumiType?: string }).__pulumiType;
  if (type) Object.assign(wrapped, { __pulumiType: type });
  return wrapped;
}

/** A policy whose resource validations run without stack capture (stack policies are left as they are). */
export function cheapNotApplicable<P extends Policy>(p: P): P {
  if (!("validateResource" in p) || !p.validateResource) return p;
  const v = p.validateResource as ResourceValidation | ResourceValidation[];
  return { ...p, validateResource: Array.isArray(v) ? v.map(withoutStacks) : withoutStacks(v) };
}
