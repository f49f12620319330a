// The estimate form: a voice track measured by the server, priced per second of video.

import { api } from './api.js';
import { $ } from './dom.js';
import { usd } from './format.js';

export function startEstimateForm() {
  $('estimate-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = $('e-audio').files?.[0];
    const out = $('estimate-out');
    if (!file) {
      out.textContent = 'Choose a voice track first.';
      return;
    }
    const ext = file.name.includes('.') ? file.name.slice(file.name.lastIndexOf('.') + 1) : '';
    const params = new URLSearchParams({
      ext,
      results: $('e-results').value || '1',
      model: $('e-model').value,
    });
    out.textContent = 'Measuring…';
    try {
      const r = await api(`/api/estimate?${params}`, {
        method: 'POST',
        body: file,
        headers: { 'content-type': 'application/octet-stream' },
      });
      out.textContent = `${r.audioSeconds.toFixed(2)} s of audio × USD ${r.usdPerSecond}/s (${r.model}) × ${r.numberResults} result(s) = ${usd(r.estimatedUsd)}. Prices: ${r.priceTable}.`;
    } catch (error) {
      out.textContent = `No estimate: ${error.message}`;
    }
  });
}
