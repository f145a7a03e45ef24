import { html, nothing } from "lit";
import { property } from "lit/decorators.js";
import type { EventType } from "./api.js";
import { Panel, define } from "./shared.js";

const groupNames: Record<string, string> = {
  lead: "Lead events",
  appointment: "Appointment events",
  contact: "Contact events",
  conversation: "Conversation events",
  sequence: "Sequence events",
};

export function groupName(group: string): string {
  return groupNames[group] ?? group[0].toUpperCase() + group.slice(1) + " events";
}

/** The catalog's groups in catalog order, each with its types. */
export function groups(types: EventType[]): [string, EventType[]][] {
  const out = new Map<string, EventType[]>();
  for (const t of types) out.set(t.group, [...(out.get(t.group) ?? []), t]);
  return [...out];
}

/**
 * The event picker: every event type of the catalog in its group, with its description; a
 * group's wildcard ("lead.*") and "*" (every event, including types added later). Filters
 * the picker does not offer (e.g. "sequence.step.*") are kept and can be removed. Fires
 * "filters-change" with the new filters in detail.
 */
export class EventPicker extends Panel {
  @property({ attribute: false }) types: EventType[] = [];
  @property({ attribute: false }) value: string[] = [];
  @property() error = "";

  private set(next: string[]) {
    this.value = next;
    this.dispatchEvent(new CustomEvent("filters-change", { detail: next }));
  }

  private toggle(filter: string, on: boolean, covers: (f: string) => boolean = () => false) {
    const rest = this.value.filter((f) => f !== filter && !(on && covers(f)));
    this.set(on ? [...rest, filter] : rest);
  }

  override render() {
    const all = this.value.includes("*");
    const known = new Set(["*", ...this.types.map((t) => t.type), ...groups(this.types).map(([g]) => g + ".*")]);
    const others = this.value.filter((f) => !known.has(f));
    return html`<fieldset class="picker" aria-invalid=${this.error ? "true" : "false"} aria-describedby="events-hint events-err">
      <legend>Events <span class="req" aria-hidden="true">*</span></legend>
      <p class="hint" id="events-hint">Choose the events this endpoint receives: whole groups, single events, or all of them.</p>
      <label class="check"><input type="checkbox" name="event" value="*" .checked=${all}
        @change=${(e: Event) => this.toggle("*", (e.target as HTMLInputElement).checked, () => true)} />
        <span><strong>All events</strong> <code>*</code><span class="desc muted small"> — every event type, including types added later</span></span></label>
      <div class="groups">
        ${groups(this.types).map(([group, types]) => {
          const wildcard = group + ".*";
          const groupOn = all || this.value.includes(wildcard);
          return html`<fieldset>
            <legend>${groupName(group)}</legend>
            <label class="check group-all"><input type="checkbox" name="event" value=${wildcard} .checked=${groupOn} ?disabled=${all}
              @change=${(e: Event) => this.toggle(wildcard, (e.target as HTMLInputElement).checked, (f) => f.startsWith(group + "."))} />
              <span>All ${groupName(group).toLowerCase()} <code>${wildcard}</code></span></label>
            <ul>
              ${types.map(
                (t) => html`<li><label class="check"><input type="checkbox" name="event" value=${t.type}
                    .checked=${groupOn || this.value.includes(t.type)} ?disabled=${groupOn}
                    @change=${(e: Event) => this.toggle(t.type, (e.target as HTMLInputElement).checked)} />
                  <span><code>${t.type}</code><span class="desc">${t.description}</span></span></label></li>`,
              )}
            </ul>
          </fieldset>`;
        })}
      </div>
      ${others.length
        ? html`<fieldset><legend>Other filters</legend>
            <ul class="chips">${others.map(
              (f) => html`<li><label class="check"><input type="checkbox" name="event" value=${f} checked
                @change=${(e: Event) => this.toggle(f, (e.target as HTMLInputElement).checked)} /><code>${f}</code></label></li>`,
            )}</ul></fieldset>`
        : nothing}
      <p class="field-error" id="events-err">${this.error}</p>
    </fieldset>`;
  }
}
define("dealerai-event-picker", EventPicker);
