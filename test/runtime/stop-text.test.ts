// StopText: stop strings applied to a generation's pieces (runtime/generation.ts), piece by piece as stream() hands them out.
import { describe, expect, it } from "vitest";
import { StopText } from "../../runtime/generation.js";

/** Pushes the pieces, then ends: what each push showed (and the end's text), and whether a stop string appeared. */
function run(stops: string[], pieces: string[]): { shown: string[]; stopped: boolean } {
  const t = new StopText(stops);
  const shown: string[] = [];
  for (const p of pieces) {
    const { text, stopped } = t.push(p);
    shown.push(text);
    if (stopped) return { shown, stopped };
  }
  shown.push(t.end());
  return { shown, stopped: false };
}

describe("StopText", () => {
  it("ends just before a stop string that spans pieces, having shown nothing of it", () => {
    expect(run(["red ball"], [" a big", ",", " red", " ball", " and"])).toEqual({ shown: [" a big", ",", " ", ""], stopped: true });
  });

  it("holds back a false start and shows it once the text goes another way", () => {
    // " re" may begin "red ball"; "d car" settles that it does not, but its own "r" may begin it again.
    expect(run(["red ball"], [" re", "d car", "."])).toEqual({ shown: [" ", "red ca", "r.", ""], stopped: false });
    // a held "red " then "bell": the whole hold is shown, as one piece
    expect(run(["red ball"], ["the red ", "bell"])).toEqual({ shown: ["the ", "red bell", ""], stopped: false });
  });

  it("ends at the stop string completed first in the text, not first in the list", () => {
    expect(run(["park", "Lily"], ["named Lily. She played in the park"])).toEqual({ shown: ["named "], stopped: true });
    // completed at the same place: the one that starts first
    expect(run(["b", "ab"], ["x", "a", "b"])).toEqual({ shown: ["x", "", ""], stopped: true });
  });

  it("cuts overlapping stop strings at the same place however the pieces break the text", () => {
    // "b" is completed before "abc", which starts earlier: the text ends before "b" either way.
    expect(run(["abc", "b"], ["xabc"])).toEqual({ shown: ["xa"], stopped: true });
    expect(run(["abc", "b"], ["xab", "c"])).toEqual({ shown: ["xa"], stopped: true });
    expect(run(["abc", "b"], ["x", "a", "b", "c"])).toEqual({ shown: ["x", "", "a"], stopped: true });
  });

  it("finds a stop string inside one piece, at its start, and as a single character", () => {
    expect(run(["\n"], ["one line\nand more"])).toEqual({ shown: ["one line"], stopped: true });
    expect(run(["The end"], ["The end."])).toEqual({ shown: [""], stopped: true });
    expect(run(["."], ["Hi", "!", " Bye", ". Then"])).toEqual({ shown: ["Hi", "!", " Bye", ""], stopped: true });
  });

  it("gives back what it held when the generation ends without a stop string", () => {
    expect(run(["The end"], ["and that was", " The", " en"])).toEqual({ shown: ["and that was", " ", "", "The en"], stopped: false });
  });

  it("keeps the longest held start over several stop strings, and holds nothing without any", () => {
    // "ab" may begin "abc"; "b" alone may begin "bd": the longer hold keeps both possible
    expect(run(["abc", "bd"], ["xab", "d"])).toEqual({ shown: ["x", "a"], stopped: true });
    expect(run([], ["any", " text"])).toEqual({ shown: ["any", " text", ""], stopped: false });
  });
});
