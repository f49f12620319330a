// Numbers and times as the page writes them: pure functions of a value, no DOM.

export const usd = (n) => (n === undefined || n === null ? '–' : `USD ${n.toFixed(n < 1 ? 4 : 2)}`);

export const seconds = (s) => {
  if (s === undefined || s === null) return '–';
  if (s < 60) return `${s.toFixed(1)} s`;
  const r = Math.round(s);
  if (r < 3600) return `${Math.floor(r / 60)} min ${String(r % 60).padStart(2, '0')} s`;
  return `${Math.floor(r / 3600)} h ${String(Math.floor((r % 3600) / 60)).padStart(2, '0')} min`;
};

export const when = (iso) => {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};
