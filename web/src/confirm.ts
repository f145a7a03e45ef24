import { html, nothing } from "lit";
import { state } from "lit/decorators.js";
import { Panel, define } from "./shared.js";

export interface Question {
  title: string;
  body: string;
  confirm: string;
  danger?: boolean;
}

/**
 * The page's confirmation dialog: a modal <dialog> (focus stays in it, Escape cancels) that
 * asks one question at a time and answers true when the person confirms.
 */
export class ConfirmDialog extends Panel {
  @state() private question: Question | null = null;
  private resolve?: (ok: boolean) => void;
  private opener: Element | null = null;

  async ask(q: Question): Promise<boolean> {
    this.resolve?.(false);
    this.opener = (this.getRootNode() as ShadowRoot).activeElement;
    this.question = q;
    await this.updateComplete;
    const dialog = this.querySelector("dialog")!;
    if (!dialog.open) dialog.showModal();
    this.querySelector<HTMLElement>("[data-cancel]")?.focus();
    return new Promise((resolve) => (this.resolve = resolve));
  }

  private answer(ok: boolean) {
    this.querySelector("dialog")?.close();
    this.resolve?.(ok);
    this.resolve = undefined;
    (this.opener as HTMLElement | null)?.focus?.();
  }

  override render() {
    const q = this.question;
    return html`<dialog aria-labelledby="confirm-title" aria-describedby="confirm-body" @cancel=${(e: Event) => {
      e.preventDefault();
      this.answer(false);
    }}>
      ${q
        ? html`<h2 id="confirm-title">${q.title}</h2>
            <p id="confirm-body">${q.body}</p>
            <div class="form-actions">
              <button type="button" class=${q.danger ? "danger solid" : "primary"} data-confirm @click=${() => this.answer(true)}>${q.confirm}</button>
              <button type="button" data-cancel @click=${() => this.answer(false)}>Cancel</button>
            </div>`
        : nothing}
    </dialog>`;
  }
}
define("dealerai-confirm", ConfirmDialog);
