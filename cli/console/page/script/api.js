// The console's JSON API, with the token of the page's address sent as a header (actions need it there).

const token = new URL(location.href).searchParams.get('token') ?? '';

export async function api(path, init = {}) {
  const response = await fetch(path, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
    cache: 'no-store',
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
  return body;
}
