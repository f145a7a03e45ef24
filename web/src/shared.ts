import { LitElement, html, nothing, type TemplateResult } from "lit";
import { property } from "lit/decorators.js";
import { ApiError, type Api, type Circuit, type EventType, type FieldError } from "./api.js";
import type { Question } from "./confirm.js";

/** What the page shows: one of the two lists, or one item. */
export type View =
  | { name: "agents" }
  | { name: "agent"; platform: string }
  | { name: "subscriptions"; notice?: string }
  | { name: "new-subscription" }
  | { name: "subscription"; id: string; notice?: string; secret?: string }
  | { name: "edit-subscription"; id: string };

/** What every part of the page shares: the API, navigation, the event catalog. */
export interface Ctx {
  api: Api;
  pageSize: number;
  navigate(view: View): void;
  eventTypes(): Promise<EventType[]>;
  /** Says message to screen readers (a polite live region). */
  announce(message: string): void;
  /** Asks the person to confirm (a modal dialog); true when they do. */
  confirm(q: Question): Promise<boolean>;
}

/**
 * A part of the page. It renders into the light DOM of its own element, which lives in the
 * shadow root of <dealerai-integrations>: the page's styles apply, the host's do not.
 */
export class Panel extends LitElement {
  @property({ attribute: false }) ctx!: Ctx;
  protected override createRenderRoot() {
    return this;
  }
  override connectedCallback() {
    super.connectedCallback();
    void this.load();
  }
  /** Reads what the part shows from the API, when it is added to the page. */
  protected async load(): Promise<void> {}
}

/** Defines a custom element once (a host may load the bundle twice). */
export function define(name: string, ctor: CustomElementConstructor) {
  if (!customElements.get(name)) customElements.define(name, ctor);
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** "dealerId" → "Dealer ID", "tokenUrl" → "Token URL". */
export function humanize(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[\s_-]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
  const special: Record<string, string> = { id: "ID", url: "URL", api: "API", iana: "IANA" };
  return words
    .map((w, i) => special[w] ?? (i === 0 ? w[0].toUpperCase() + w.slice(1) : w))
    .join(" ");
}

const statusLabels: Record<string, [string, string]> = {
  succeeded: ["Succeeded", "ok"],
  failed: ["Failed", "bad"],
  pending: ["Pending", "info"],
  skipped: ["Skipped", "warn"],
  active: ["Active", "ok"],
  disabled: ["Disabled", "warn"],
};

export function statusBadge(status: string): TemplateResult {
  const [label, cls] = statusLabels[status] ?? [status, ""];
  return html`<span class="badge ${cls}">${label}</span>`;
}

/** The field errors that match none of the fields a form shows. */
export function otherErrors(err: ApiError | null, shown: (field: string) => boolean): FieldError[] {
  return err?.fieldErrors.filter((f) => !shown(f.field)) ?? [];
}

/** The message of the first field error of field (or of one of its elements, "events[2]"). */
export function fieldError(err: ApiError | null, ...fields: string[]): string | undefined {
  return err?.fieldErrors.find((f) => fields.some((name) => f.field === name || f.field.startsWith(name + "[") || f.field.startsWith(name + ".")))?.message;
}

/** A form's error summary: the problem's detail and the errors no field shows. */
export function errorSummary(err: ApiError | null, shown: (field: string) => boolean): TemplateResult | typeof nothing {
  if (!err) return nothing;
  const rest = otherErrors(err, shown);
  const fieldsWrong = err.fieldErrors.length > 0;
  return html`<div class="notice ${err.conflict ? "warn" : "error"}" role="alert" tabindex="-1" data-summary>
    <p><strong>${err.conflict ? "This changed while you were editing." : fieldsWrong ? "Please correct the highlighted fields." : "That did not work."}</strong>
      ${err.message}</p>
    ${rest.length ? html`<ul>${rest.map((f) => html`<li><code>${f.field}</code>: ${f.message}</li>`)}</ul>` : nothing}
  </div>`;
}

export function loading(what: string): TemplateResult {
  return html`<p class="loading" role="status">Loading ${what}…</p>`;
}

export function loadError(err: unknown, retry: () => void): TemplateResult {
  const message = err instanceof ApiError ? err.message : "Something went wrong.";
  return html`<div class="notice error" role="alert">
    <p>${message}</p>
    <button type="button" @click=${retry}>Try again</button>
  </div>`;
}

/** After a form was refused: the focus goes to its first invalid field, else to its error summary. */
export async function focusFirstProblem(form: LitElement) {
  await form.updateComplete;
  const invalid = form.querySelector<HTMLElement>('input[aria-invalid="true"], fieldset[aria-invalid="true"] input:not([disabled])');
  (invalid ?? form.querySelector<HTMLElement>("[data-summary]"))?.focus();
}

/** A circuit breaker's state (a subscription's endpoint, an agent's platform API), with the last
 * error and the next try while it is not closed. */
export function circuitState(c: Circuit): TemplateResult {
  const labels: Record<string, [string, string]> = {
    closed: ["Closed — deliveries flow normally", "ok"],
    open: ["Open — the endpoint keeps failing, deliveries are paused and retried later", "bad"],
    half_open: ["Half-open — trying the endpoint again", "warn"],
  };
  const [label, cls] = labels[c.state] ?? [c.state, ""];
  const closed = c.state === "closed";
  return html`<span class="badge ${cls}" data-role="circuit">${label}</span>
    ${!closed && c.lastError ? html`<p class="small" data-role="circuit-error">Last error: ${c.lastError}</p>` : nothing}
    ${c.state === "open" && c.retryAt ? html`<p class="small">Next try: ${fmtTime(c.retryAt)}</p>` : nothing}`;
}
