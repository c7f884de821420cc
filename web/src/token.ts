/**
 * The server's token, which the routes that change anything (training) ask for. `fashion-cnn serve`
 * prints a URL carrying it (`/?token=...`): the dashboard keeps it for this origin and takes it out
 * of the address bar and the history, so that it is neither bookmarked nor shared by copying the URL.
 */
const KEY = 'fashion-cnn-token';

/** Keeps a ?token= of the page's URL, then removes it from the URL. Call once, before anything else. */
export function adoptTokenFromUrl(): void {
  const url = new URL(location.href);
  const token = url.searchParams.get('token');
  if (token === null) return;
  localStorage.setItem(KEY, token);
  url.searchParams.delete('token');
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
}

/** The header that carries the token, when the dashboard has one. */
export function authorization(): Record<string, string> {
  const token = localStorage.getItem(KEY);
  return token ? { authorization: `Bearer ${token}` } : {};
}
