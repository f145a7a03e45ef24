import { css } from "lit";

// The page's look. Every colour and the font come from CSS custom properties the host page
// may set on the element (docs/integrations-page.md#theming); theme="dark" switches the
// defaults. The default pairs keep a contrast of at least 4.5:1 for text.
export const theme = css`
  :host {
    --_font: var(--dai-font-family, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif);
    --_mono: var(--dai-font-family-mono, ui-monospace, SFMono-Regular, Menlo, Consolas, monospace);
    --_text: var(--dai-color-text, #111827);
    --_muted: var(--dai-color-muted, #4b5563);
    --_bg: var(--dai-color-background, #f6f7f9);
    --_surface: var(--dai-color-surface, #ffffff);
    --_border: var(--dai-color-border, #d1d5db);
    --_primary: var(--dai-color-primary, #1d4ed8);
    --_on-primary: var(--dai-color-on-primary, #ffffff);
    --_danger: var(--dai-color-danger, #b91c1c);
    --_danger-bg: var(--dai-color-danger-background, #fef2f2);
    --_success: var(--dai-color-success, #166534);
    --_success-bg: var(--dai-color-success-background, #dcfce7);
    --_warning: var(--dai-color-warning, #92400e);
    --_warning-bg: var(--dai-color-warning-background, #fef3c7);
    --_info-bg: var(--dai-color-info-background, #eff6ff);
    --_neutral-bg: var(--dai-color-neutral-background, #f3f4f6);
    --_focus: var(--dai-color-focus, #2563eb);
    --_radius: var(--dai-radius, 8px);
  }
  :host([theme="dark"]) {
    --_text: var(--dai-color-text, #f3f4f6);
    --_muted: var(--dai-color-muted, #cbd5e1);
    --_bg: var(--dai-color-background, #0f172a);
    --_surface: var(--dai-color-surface, #1e293b);
    --_border: var(--dai-color-border, #475569);
    --_primary: var(--dai-color-primary, #93c5fd);
    --_on-primary: var(--dai-color-on-primary, #0f172a);
    --_danger: var(--dai-color-danger, #fca5a5);
    --_danger-bg: var(--dai-color-danger-background, #3b1212);
    --_success: var(--dai-color-success, #86efac);
    --_success-bg: var(--dai-color-success-background, #0f2e1b);
    --_warning: var(--dai-color-warning, #fcd34d);
    --_warning-bg: var(--dai-color-warning-background, #33260a);
    --_info-bg: var(--dai-color-info-background, #172554);
    --_neutral-bg: var(--dai-color-neutral-background, #334155);
    --_focus: var(--dai-color-focus, #93c5fd);
  }
`;

export const base = css`
  :host {
    display: block;
    font-family: var(--_font);
    font-size: var(--dai-font-size, 15px);
    line-height: 1.5;
    color: var(--_text);
    background: var(--_bg);
    padding: 24px;
    box-sizing: border-box;
  }
  *, *::before, *::after { box-sizing: inherit; }
  h1, h2, h3, h4 { line-height: 1.25; margin: 0 0 8px; }
  h1 { font-size: 1.6em; }
  h2 { font-size: 1.3em; }
  h3 { font-size: 1.1em; }
  h4 { font-size: 1em; }
  h1:focus, h2:focus { outline: none; }
  p { margin: 0 0 12px; }
  code, pre { font-family: var(--_mono); font-size: 0.9em; }
  a { color: var(--_primary); }
  .lead { color: var(--_muted); margin-bottom: 20px; max-width: 70ch; }
  .muted { color: var(--_muted); }
  .small { font-size: 0.875em; }

  /* focus: always visible, for keyboard users */
  :focus-visible { outline: 3px solid var(--_focus); outline-offset: 2px; }
  input:focus-visible, select:focus-visible, textarea:focus-visible { outline-offset: 0; }

  /* tabs */
  [role="tablist"] { display: flex; gap: 4px; border-bottom: 1px solid var(--_border); margin-bottom: 20px; }
  [role="tab"] {
    font: inherit; font-weight: 600; color: var(--_muted); background: none; border: none;
    border-bottom: 3px solid transparent; padding: 10px 14px; cursor: pointer; margin-bottom: -1px;
  }
  [role="tab"][aria-selected="true"] { color: var(--_primary); border-bottom-color: var(--_primary); }
  [role="tab"]:hover { color: var(--_text); }

  /* surfaces */
  .card { background: var(--_surface); border: 1px solid var(--_border); border-radius: var(--_radius); padding: 20px; margin-bottom: 16px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 16px; list-style: none; margin: 0 0 16px; padding: 0; }
  .grid .card { margin: 0; display: flex; flex-direction: column; }
  .card-head { display: flex; align-items: flex-start; justify-content: space-between; gap: 4px 12px; flex-wrap: wrap; margin-bottom: 8px; }
  .card-head h2, .card-head h3 { margin: 0; }
  ul.caps { margin: 0 0 12px; padding-left: 18px; color: var(--_muted); list-style: disc; font-size: 0.93em; }
  ul.caps li::first-letter { text-transform: uppercase; }
  .card .actions { margin-top: auto; }
  .toolbar { display: flex; align-items: center; justify-content: space-between; gap: 12px; flex-wrap: wrap; margin-bottom: 16px; }
  .toolbar h2 { margin: 0; }
  .row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
  .spread { display: flex; justify-content: space-between; align-items: center; gap: 12px; flex-wrap: wrap; }
  dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; margin: 0; }
  dl.facts dt { color: var(--_muted); }
  dl.facts dd { margin: 0; overflow-wrap: anywhere; }

  /* buttons */
  button, .button {
    font: inherit; font-weight: 600; font-size: 0.93em; border-radius: 6px; padding: 7px 14px; cursor: pointer;
    border: 1px solid var(--_border); background: var(--_surface); color: var(--_text); line-height: 1.4;
  }
  button:hover { border-color: var(--_muted); }
  button.primary { background: var(--_primary); border-color: var(--_primary); color: var(--_on-primary); }
  button.danger { color: var(--_danger); border-color: var(--_danger); }
  button.danger.solid { background: var(--_danger); color: var(--_surface); }
  button.link { border: none; background: none; color: var(--_primary); padding: 4px 2px; text-decoration: underline; }
  button:disabled { opacity: 0.55; cursor: not-allowed; }
  .back { margin-bottom: 12px; }

  /* badges */
  .badge { display: inline-block; font-size: 0.8em; font-weight: 700; padding: 2px 10px; border-radius: 999px; white-space: nowrap;
    background: var(--_neutral-bg); color: var(--_text); }
  .badge.ok { background: var(--_success-bg); color: var(--_success); }
  .badge.bad { background: var(--_danger-bg); color: var(--_danger); }
  .badge.warn { background: var(--_warning-bg); color: var(--_warning); }
  .badge.info { background: var(--_info-bg); color: var(--_primary); }
  .chips { display: flex; flex-wrap: wrap; gap: 4px; list-style: none; margin: 0; padding: 0; }
  .chips li code { background: var(--_neutral-bg); padding: 1px 6px; border-radius: 4px; }

  /* notices */
  .notice { border-radius: var(--_radius); padding: 12px 16px; margin-bottom: 16px; border: 1px solid var(--_border); background: var(--_info-bg); }
  .notice.error { background: var(--_danger-bg); border-color: var(--_danger); color: var(--_danger); }
  .notice.success { background: var(--_success-bg); border-color: var(--_success); color: var(--_success); }
  .notice.warn { background: var(--_warning-bg); border-color: var(--_warning); color: var(--_warning); }
  .notice p:last-child, .notice ul:last-child { margin-bottom: 0; }
  .notice ul { margin: 4px 0 0; padding-left: 20px; }
  .empty { text-align: center; padding: 32px 16px; color: var(--_muted); }
  .loading { color: var(--_muted); padding: 16px 0; }

  /* forms */
  form { margin: 0; }
  .field { margin-bottom: 16px; }
  .field label, .label { display: block; font-weight: 600; margin-bottom: 2px; }
  .field label.check { display: flex; }
  .hint { color: var(--_muted); font-size: 0.875em; margin: 0 0 4px; }
  .req { color: var(--_danger); }
  .field-error { color: var(--_danger); font-size: 0.875em; font-weight: 600; margin: 4px 0 0; }
  input[type="text"], input[type="url"], input[type="password"], select, textarea {
    font: inherit; color: var(--_text); background: var(--_surface); border: 1px solid var(--_muted);
    border-radius: 6px; padding: 7px 10px; width: 100%; max-width: 560px;
  }
  select { width: auto; }
  input[aria-invalid="true"], fieldset[aria-invalid="true"] { border-color: var(--_danger); border-width: 2px; }
  .check { display: flex; gap: 8px; align-items: flex-start; font-weight: normal; cursor: pointer; }
  .check input { margin-top: 4px; width: 16px; height: 16px; flex: none; }
  fieldset { border: 1px solid var(--_border); border-radius: var(--_radius); padding: 12px 16px; margin: 0 0 16px; }
  legend { font-weight: 600; padding: 0 4px; }
  .form-actions { display: flex; gap: 8px; flex-wrap: wrap; margin-top: 8px; }
  .cred { display: grid; grid-template-columns: 1fr auto; gap: 4px 12px; align-items: center; }

  /* event picker */
  .groups { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; margin-top: 12px; }
  .groups fieldset { margin: 0; }
  .groups ul { list-style: none; margin: 6px 0 0; padding: 0 0 0 8px; }
  .groups li { margin: 4px 0; }
  .groups .desc { display: block; color: var(--_muted); font-size: 0.85em; }
  .group-all { border-bottom: 1px solid var(--_border); padding-bottom: 6px; }

  /* tables */
  .table-wrap { overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; background: var(--_surface); }
  caption { text-align: left; font-weight: 600; padding: 0 0 8px; }
  th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--_border); vertical-align: top; }
  th { font-size: 0.85em; color: var(--_muted); font-weight: 700; text-transform: uppercase; letter-spacing: 0.03em; }
  td.url { overflow-wrap: anywhere; max-width: 360px; }
  tr.detail > td { background: var(--_bg); }
  pre.snippet { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; max-height: 160px; overflow: auto;
    background: var(--_neutral-bg); padding: 6px 8px; border-radius: 4px; }
  details summary { cursor: pointer; font-weight: 600; }

  /* secret */
  .secret { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
  .secret output { font-family: var(--_mono); background: var(--_neutral-bg); padding: 6px 10px; border-radius: 6px; overflow-wrap: anywhere; }

  /* dialogs */
  dialog { border: 1px solid var(--_border); border-radius: var(--_radius); padding: 24px; max-width: 480px;
    background: var(--_surface); color: var(--_text); }
  dialog::backdrop { background: rgb(15 23 42 / 0.5); }

  .sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
`;
