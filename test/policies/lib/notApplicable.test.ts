import type { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { describe, expect, it } from "vitest";
import { cheapNotApplicable } from "../../../policies/lib/notApplicable";

class NotApplicableError extends Error {}
const args = (type: string) =>
  ({
    type,
    notApplicable: (reason?: string) => {
      throw new NotApplicableError(reason);
    },
  }) as unknown as ResourceValidationArgs;
const policy = (validateResource: ResourceValidationPolicy["validateResource"]): ResourceValidationPolicy => ({
  name: "p",
  description: "d",
  enforcementLevel: "mandatory",
  validateResource,
});

describe("resource validations run without stack capture, and a real failure keeps its stack", () => {
  it("'not applicable' passes through, made without a stack", () => {
    let stack: string | undefined;
    const p = cheapNotApplicable(
      policy((a) => {
        try {
          return a.notApplicable("only for X");
        } catch (e) {
          stack = (e as Error).stack;
          throw e;
        }
      }),
    );
    expect(() => (p.validateResource as (a: ResourceValidationArgs, r: () => void) => void)(args("Y"), () => undefined)).toThrow(NotApplicableError);
    expect(stack?.split("\n").length).toBe(1);
  });

  it("a bug in a policy is run again with stacks, so its error says where it is; reports still arrive", () => {
    const reports: string[] = [];
    const p = cheapNotApplicable(
      policy((_a, report) => {
        report("found");
        if ((undefined as unknown as { x: number }).x > 0) report("unreachable");
      }),
    );
    let caught: Error | undefined;
    try {
      (p.validateResource as (a: ResourceValidationArgs, r: (m: string) => void) => void)(args("Y"), (m) => reports.push(m));
    } catch (e) {
      caught = e as Error;
    }
    expect(caught).toBeInstanceOf(TypeError);
    expect(caught!.stack!.split("\n").length).toBeGreaterThan(2);
    expect(caught!.stack).toContain("notApplicable.test.ts");
    expect(reports).toEqual(["found", "found"]);
    expect(Error.stackTraceLimit).toBeGreaterThan(0);
  });

  it("keeps the type the SDK reads to skip a single-type policy, and each element of a list", () => {
    const single = Object.assign(() => undefined, { __pulumiType: "gcp:x/y:Z" });
    expect((cheapNotApplicable(policy(single)).validateResource as { __pulumiType?: string }).__pulumiType).toBe("gcp:x/y:Z");
    const list = cheapNotApplicable(policy([single, () => undefined])).validateResource as { __pulumiType?: string }[];
    expect(list.map((v) => v.__pulumiType)).toEqual(["gcp:x/y:Z", undefined]);
  });
});
