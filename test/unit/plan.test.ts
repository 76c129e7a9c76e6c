/** The commit policy as a table: facts in, store effect and token action out. No store, no clock. */
import { describe, expect, it } from "vitest";
import { type CommitFacts, planCommit, planConflict } from "../../src/core/plan.js";

const base: CommitFacts = {
  stored: true,
  destroyed: false,
  hadToken: true,
  rotated: false,
  changed: false,
  holdsSomething: true,
  touchDue: false,
  payloadChanged: false,
  secretKnown: true,
  transport: "cookie",
};

describe("planCommit", () => {
  const rows: Array<[string, Partial<CommitFacts>, string, string]> = [
    // name, facts, effect, token
    ["destroyed stored session", { destroyed: true }, "delete", "clear"],
    ["destroyed, never stored, client sent a token", { destroyed: true, stored: false }, "none", "clear"],
    ["destroyed, never stored, no token", { destroyed: true, stored: false, hadToken: false }, "none", "none"],
    ["destroyed, header transport", { destroyed: true, transport: "header" }, "delete", "clear"],
    ["new, holds nothing (a bot)", { stored: false, holdsSomething: false, hadToken: false }, "none", "none"],
    ["new, unknown token, holds nothing", { stored: false, holdsSomething: false }, "none", "none"],
    ["new, holds data", { stored: false }, "create", "set"],
    ["new, header transport", { stored: false, transport: "header" }, "create", "set"],
    ["login or rotate", { rotated: true, changed: true }, "update", "set"],
    ["rotate, header transport", { rotated: true, transport: "header" }, "update", "set"],
    ["rotation merged away (secret unknown)", { rotated: true, secretKnown: false }, "update", "none"],
    ["data changed, nothing else", { changed: true }, "update", "none"],
    ["data changed, touch due", { changed: true, touchDue: true }, "update", "set"],
    ["cookieKeys value changed", { changed: true, payloadChanged: true }, "update", "set"],
    ["data changed, touch due, header transport", { changed: true, touchDue: true, transport: "header" }, "update", "none"],
    [
      "data changed after another's rotate (secret unknown)",
      { changed: true, touchDue: true, secretKnown: false },
      "update",
      "none",
    ],
    ["unchanged, touch due", { touchDue: true }, "touch", "set"],
    ["unchanged, touch due, header transport", { touchDue: true, transport: "header" }, "touch", "none"],
    ["unchanged, touch due, secret unknown", { touchDue: true, secretKnown: false }, "touch", "none"],
    ["unchanged, no touch due", {}, "none", "none"],
  ];
  for (const [name, facts, effect, token] of rows) {
    it(`${name} -> ${effect} / ${token}`, () => {
      expect(planCommit({ ...base, ...facts })).toEqual({ effect, token });
    });
  }

  it("never sends a token it does not know, whatever the other facts", () => {
    for (const rotated of [false, true])
      for (const changed of [false, true])
        for (const touchDue of [false, true])
          for (const payloadChanged of [false, true]) {
            const plan = planCommit({ ...base, rotated, changed, touchDue, payloadChanged, secretKnown: false });
            expect(plan.token).not.toBe("set");
          }
  });

  it("never writes for an unchanged session before touchInterval", () => {
    for (const transport of ["cookie", "header"] as const) {
      expect(planCommit({ ...base, transport }).effect).toBe("none");
    }
  });
});

describe("planConflict", () => {
  const rows: Array<[string, Parameters<typeof planConflict>[0], ReturnType<typeof planConflict>]> = [
    ["row gone", { row: "gone", rotatedMeanwhile: false, loginMeanwhile: false, loggingIn: false }, { action: "interrupt" }],
    [
      "row gone, even for a login",
      { row: "gone", rotatedMeanwhile: false, loginMeanwhile: false, loggingIn: true },
      { action: "interrupt" },
    ],
    [
      "row undecodable",
      { row: "undecodable", rotatedMeanwhile: true, loginMeanwhile: true, loggingIn: false },
      { action: "interrupt" },
    ],
    [
      "another request's data write",
      { row: "present", rotatedMeanwhile: false, loginMeanwhile: false, loggingIn: false },
      { action: "merge", keepTheirSecret: false },
    ],
    [
      "another request's rotate()",
      { row: "present", rotatedMeanwhile: true, loginMeanwhile: false, loggingIn: false },
      { action: "merge", keepTheirSecret: true },
    ],
    [
      "another request's login()",
      { row: "present", rotatedMeanwhile: true, loginMeanwhile: true, loggingIn: false },
      { action: "drop" },
    ],
    [
      "my login after another's rotate(): my secret",
      { row: "present", rotatedMeanwhile: true, loginMeanwhile: false, loggingIn: true },
      { action: "merge", keepTheirSecret: false },
    ],
    [
      "my login after another's login(): the last sign-in wins",
      { row: "present", rotatedMeanwhile: true, loginMeanwhile: true, loggingIn: true },
      { action: "merge", keepTheirSecret: false },
    ],
  ];
  for (const [name, facts, expected] of rows) {
    it(name, () => expect(planConflict(facts)).toEqual(expected));
  }
});
