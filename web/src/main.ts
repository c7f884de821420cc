/** The dashboard: a hash router over its views. */
import './style.css';
import { runsView } from './views/runs.js';
import { runView } from './views/run.js';
import { projectorView } from './views/projector.js';
import { classifyView } from './views/classify.js';
import { sweepsView } from './views/sweeps.js';
import { adoptTokenFromUrl } from './token.js';

type View = (root: HTMLElement, arg: string | undefined) => (() => void) | void;

const ROUTES: Record<string, View> = { runs: runsView, run: runView, sweeps: sweepsView, projector: projectorView, classify: classifyView };

let cleanup: (() => void) | void;

function route(): void {
  const [, name = 'runs', arg] = location.hash.replace(/^#/, '').split('/').map(decodeURIComponent);
  const root = document.getElementById('app')!;
  cleanup?.();
  root.replaceChildren();
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.getAttribute('href') === `#/${name}`));
  cleanup = (ROUTES[name] ?? runsView)(root, arg);
}

adoptTokenFromUrl();
window.addEventListener('hashchange', route);
route();
