import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import test from 'ava';
import fc from 'fast-check';
import { Exchange } from '../src/server/http.js';
import { fuzzRuns, fuzzSeed } from './helpers/fuzz.js';

/** An Exchange over a request whose raw query string (what uWS's getQuery gives) is `query`. */
function exchangeFor(query: string): Exchange {
  const res = { onAborted: () => res } as unknown as HttpResponse;
  const req = { getUrl: () => '/primes/js', getQuery: () => query } as unknown as HttpRequest;
  return new Exchange(res, req, 0, 'GET');
}

const names = ['limit', 'a', 'ab', 'width', ''];

test('queryParam reads a parameter as URLSearchParams.get does (the oracle), escapes and odd pairs included', (t) => {
  const cases = [
    '',
    'limit=10',
    'limit=10&limit=20',
    'a=1&ab=2&a=3',
    'limit',
    'limit=',
    'limit=&limit=5',
    '=5&&a=1',
    'a=1&&=2',
    'limits=1&limit=2',
    'xlimit=1',
    'limit=1=2',
    'limit=%31%30',
    'li%6Dit=7',
    'limit=+5',
    'limit=1e7',
    '?limit=3',
    'a=%zz&limit=4',
    '&&&',
    '=',
  ];
  for (const query of cases) {
    for (const name of names) {
      t.is(exchangeFor(query).queryParam(name), new URLSearchParams(query).get(name), `${query} ${name}`);
    }
  }
  const alphabet = fc.constantFrom('a', 'b', 'l', 'i', 'm', 't', '=', '&', '%', '2', '0', '+', '?', '1');
  fc.assert(
    fc.property(fc.string({ unit: alphabet, maxLength: 24 }), fc.constantFrom(...names), (query, name) => {
      const ex = exchangeFor(query);
      // Read after the whole query was parsed too: both ways agree.
      return ex.queryParam(name) === new URLSearchParams(query).get(name) && ex.query.get(name) === ex.queryParam(name);
    }),
    { numRuns: fuzzRuns * 20, seed: fuzzSeed },
  );
});
