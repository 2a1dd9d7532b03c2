/**
 * Chat templates: a conversation as the prompt text a chat model was trained on, rendered from the
 * Jinja template its tokenizer_config.json (or chat_template.jinja) carries, as Hugging Face's
 * apply_chat_template renders it: `messages`, `tools`, `add_generation_prompt`, the special token
 * strings (bos_token, eos_token, ...) and any further variables the template reads
 * (enable_thinking, documents, ...). The template is parsed when the artifact is built (a syntax
 * error is input.chat_template at its line) and again when it loads.
 */
import { SeecError } from "../errors.js";
import { globalFunctions, FILTERS, TESTS } from "./filters.js";
import { tokenize } from "./lexer.js";
import { parse, type Stmt } from "./parser.js";
import { render } from "./render.js";
import { isDict, typeName } from "./values.js";

/** What an artifact carries of a chat template: its source and the special token strings it may print. */
export interface ChatSpec {
  template: string;
  /** The template for a conversation given tools, where the file names one "tool_use" beside the default. */
  toolUse?: string;
  /** bos_token, eos_token, pad_token, unk_token ... as tokenizer_config.json names them. */
  tokens: Record<string, string>;
}

/** One turn: a role ("system", "user", "assistant", "tool") and its content, with any other fields the template reads. */
export interface ChatMessage {
  role: string;
  content?: unknown;
  [field: string]: unknown;
}

export interface ChatOptions {
  /** End with the opening of the assistant's turn, so that the model writes it (default true). */
  addGenerationPrompt?: boolean;
  /** Tool definitions (JSON schemas) for templates that offer them. */
  tools?: readonly unknown[];
  /** Further variables the template reads, e.g. { enable_thinking: false } for Qwen3. */
  variables?: Record<string, unknown>;
}

export class ChatTemplate {
  private readonly program: Stmt[];
  private readonly toolProgram?: Stmt[];

  /** `file`: where the template came from, named in a syntax error. */
  constructor(
    readonly spec: ChatSpec,
    file?: string,
  ) {
    try {
      this.program = parse(tokenize(spec.template));
      checkNames(this.program);
      if (spec.toolUse !== undefined) {
        this.toolProgram = parse(tokenize(spec.toolUse));
        checkNames(this.toolProgram);
      }
    } catch (error) {
      // Nested deeper than the stack allows (jinja2 too refuses these, with a RecursionError).
      const e =
        error instanceof RangeError ? new SeecError("input.chat_template", `the template is nested too deeply (${error.message})`) : error;
      if (e instanceof SeecError)
        throw new SeecError(e.code, e.message, {
          file,
          at: e.at,
          hint: "a Jinja chat template as Hugging Face's apply_chat_template renders it",
        });
      throw e;
    }
  }

  /** The conversation as prompt text (special tokens written out, to be encoded without adding others). */
  apply(messages: readonly ChatMessage[], { addGenerationPrompt = true, tools, variables = {} }: ChatOptions = {}): string {
    checkMessages(messages);
    checkJson({ messages, tools, variables }, "");
    // As apply_chat_template chooses: the "tool_use" template when tools are given and there is one.
    return render(
      (tools && this.toolProgram) || this.program,
      {
        ...this.spec.tokens,
        // apply_chat_template always passes tools and documents, None when not given (`tools is defined` holds).
        tools: null,
        documents: null,
        ...variables,
        messages: structuredClone(messages),
        add_generation_prompt: addGenerationPrompt,
        ...(tools ? { tools: structuredClone(tools) } : {}),
      },
      globalFunctions(() => new Date()),
    );
  }
}

function checkMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages) || messages.length === 0)
    throw new SeecError("runtime.chat", "a conversation is a non-empty list of messages ({ role, content })", { at: "messages" });
  messages.forEach((m, i) => {
    if (!isDict(m) || typeof m.role !== "string")
      throw new SeecError(
        "runtime.chat",
        `messages[${i}] must be an object with a role (a string), got ${isDict(m) ? `a role that is a ${typeName(m.role)}` : `a ${typeName(m)}`}`,
        {
          at: `messages[${i}]`,
        },
      );
  });
}

/**
 * What a template is given must be JSON's values (undefined aside), as Python's caller passes dicts,
 * lists, strings, numbers, bools and None: a function, a Date, a Map or a cycle is runtime.chat,
 * naming where it is (a function once failed to clone with a DOMException; a Map printed as {}).
 */
function checkJson(v: unknown, at: string, seen = new Set<unknown>()): void {
  if (v === null || ["undefined", "string", "boolean", "number"].includes(typeof v)) return;
  const plain = typeof v === "object" && (Array.isArray(v) || [Object.prototype, null].includes(Object.getPrototypeOf(v)));
  if (!plain || seen.has(v))
    throw new SeecError(
      "runtime.chat",
      `${at} is ${plain ? "part of a cycle" : `a ${typeof v === "object" ? (v.constructor?.name ?? "object") : typeof v}`}: a chat template takes JSON values`,
      {
        at,
      },
    );
  seen.add(v);
  for (const [k, x] of Object.entries(v as object)) checkJson(x, Array.isArray(v) ? `${at}[${k}]` : at ? `${at}.${k}` : k, seen);
  seen.delete(v);
}

/** Every filter and test the template names exists here: one that does not is refused when it is built, not when it runs. */
function checkNames(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(checkNames);
  if (typeof node !== "object" || node === null) return;
  const n = node as { type?: string; name?: string; line?: number };
  const kind = n.type === "filter" && !FILTERS[n.name!] ? "filter" : n.type === "test" && !TESTS[n.name!] ? "test" : undefined;
  if (kind)
    throw new SeecError("unsupported.chat_template", `the ${kind} ${n.name} is not one seec's chat templates have`, {
      at: `line ${n.line}`,
    });
  for (const child of Object.values(node)) checkNames(child);
}
