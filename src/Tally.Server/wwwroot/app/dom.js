// Builds DOM nodes without innerHTML: every user-supplied string becomes text, never markup.
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === false || value === null || value === undefined) {
      continue;
    }
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      element.className = value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    element.append(child instanceof Node ? child : String(child));
  }
}

let nextId = 0;
export function uniqueId(prefix) {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

// A labelled input. Returns the wrapper; the input is wrapper.input.
export function field(label, attributes, hint) {
  const id = attributes.id ?? uniqueId('field');
  const hintId = hint ? `${id}-hint` : null;
  const input = h('input', { ...attributes, id, 'aria-describedby': hintId });
  const wrapper = h('div', { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
  wrapper.input = input;
  return wrapper;
}

// A message area that screen readers announce; hidden while empty.
export function messageArea(kind, id) {
  const area = h('p', { class: `message ${kind}`, id, role: kind === 'error' ? 'alert' : 'status', hidden: true });
  area.show = (text) => {
    area.textContent = text ?? '';
    area.hidden = !text;
  };
  return area;
}

const amountFormat = new Intl.NumberFormat('en-US');
export function formatAmount(value) {
  return typeof value === 'number' ? amountFormat.format(value) : String(value ?? '');
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export function formatDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso ?? '') : dateFormat.format(date);
}

// An idempotency key. crypto.randomUUID needs a secure context; getRandomValues does not.
export function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// Disables a form's controls while a request runs, and marks it busy for assistive technology.
export async function busy(form, work) {
  const controls = Array.from(form.querySelectorAll('button, input, select, textarea')).filter((c) => !c.disabled);
  form.setAttribute('aria-busy', 'true');
  controls.forEach((c) => { c.disabled = true; });
  try {
    return await work();
  } finally {
    controls.forEach((c) => { c.disabled = false; });
    form.removeAttribute('aria-busy');
  }
}
