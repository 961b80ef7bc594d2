import { describe, expect, test } from 'vitest';
import { baggageMember, normaliseHost, setBaggageMember } from '../../src/routing/host.js';

describe('normaliseHost', () => {
  test.each([
    ['feat1.shop.localhost', 'feat1.shop.localhost'],
    ['Feat1.Shop.LOCALHOST', 'feat1.shop.localhost'],
    ['feat1.shop.localhost:8080', 'feat1.shop.localhost'],
    ['feat1.shop.localhost.', 'feat1.shop.localhost'],
    ['feat1.shop.localhost.:8080', 'feat1.shop.localhost'],
    ['FEAT1.shop.localhost.:443', 'feat1.shop.localhost'],
    ['Feat1.Shop.localhost:8080.', 'feat1.shop.localhost'],
    ['localhost', 'localhost'],
    ['LOCALHOST:3000', 'localhost'],
    ['127.0.0.1:8080', '127.0.0.1'],
    ['[::1]', '[::1]'],
    ['[::1]:8080', '[::1]'],
    ['[FE80::1]:443', '[fe80::1]'],
    ['', ''],
    [':8080', ''],
  ])('%j → %j', (input, expected) => {
    expect(normaliseHost(input)).toBe(expected);
  });

  test('returns the very same string when already normal (no allocation)', () => {
    const s = ['feat1', 'shop', 'localhost'].join('.'); // a non-literal string
    expect(normaliseHost(s)).toBe(s);
  });
});

describe('baggageMember', () => {
  const K = 'x-switchyard-env';

  test.each<[string, string | undefined]>([
    [`${K}=feat1`, 'feat1'],
    [`a=1,${K}=feat1,b=2`, 'feat1'],
    [`a=1, ${K}=feat1`, 'feat1'],
    [`a=1,\t ${K}\t= feat1 \t,b=2`, 'feat1'],
    [`${K}=feat1;ttl=30;sampled`, 'feat1'],
    [`${K}=feat1 ;p`, 'feat1'],
    [`a=1;p=2,${K}=feat2;q,b=3`, 'feat2'],
    [`${K}=feat%31`, 'feat1'],
    [`${K}=a%2Cb%3Bc`, 'a,b;c'],
    [`${K}=bad%E0%A4%A`, 'bad%E0%A4%A'], // malformed encoding kept as received
    [`${K}=`, ''],
    [`${K}=;p=1`, ''],
    [`${K}=first,${K}=second`, 'first'],
    [`${K}-old=feat1`, undefined],
    [`${K}x=feat1`, undefined],
    [`pre${K}=feat1`, undefined],
    [`a=${K}`, undefined],
    [`a=1;${K}=feat1`, undefined], // a property of another member is not a member
    [`${K}`, undefined],
    [`${K};x=1`, undefined],
    ['', undefined],
    ['a=1,,b=2', undefined],
  ])('%j → %j', (baggage, expected) => {
    expect(baggageMember(baggage, K)).toBe(expected);
  });

  test('returns the value as written (case kept; lower-casing is the resolver\'s job)', () => {
    expect(baggageMember('k=FeAt1', 'k')).toBe('FeAt1');
  });
});

describe('setBaggageMember', () => {
  const K = 'x-switchyard-env';

  test('undefined or empty input gives just the member', () => {
    expect(setBaggageMember(undefined, K, 'feat1')).toBe(`${K}=feat1`);
    expect(setBaggageMember('', K, 'feat1')).toBe(`${K}=feat1`);
  });

  test('appends when absent, keeping other members in order', () => {
    expect(setBaggageMember('a=1,b=2;p', K, 'feat1')).toBe(`a=1,b=2;p,${K}=feat1`);
  });

  test('replaces in place, keeping the member\'s properties and its position', () => {
    expect(setBaggageMember(`a=1,${K}=old;ttl=30,b=2`, K, 'feat1')).toBe(`a=1,${K}=feat1;ttl=30,b=2`);
  });

  test('replaces a member written with OWS around it and around "="', () => {
    expect(setBaggageMember(`a=1 , ${K} = old , b=2`, K, 'feat1')).toBe(`a=1,${K}=feat1,b=2`);
  });

  test('other members (and their properties) are untouched', () => {
    const out = setBaggageMember(`userId=alice;p=1,tenant=acme%20inc,${K}=x`, K, 'feat2');
    expect(out).toBe(`userId=alice;p=1,tenant=acme%20inc,${K}=feat2`);
  });

  test('a member whose key only starts with the name is not replaced', () => {
    expect(setBaggageMember(`${K}-old=x`, K, 'feat1')).toBe(`${K}-old=x,${K}=feat1`);
  });

  test('removes duplicates of the member, keeping the first position', () => {
    expect(setBaggageMember(`${K}=a,b=2,${K}=c;p,d=4,${K}=e`, K, 'feat1')).toBe(`${K}=feat1,b=2,d=4`);
  });

  test('removes adjacent duplicates too', () => {
    expect(setBaggageMember(`a=1,${K}=x,${K}=y,${K}=z`, K, 'feat1')).toBe(`a=1,${K}=feat1`);
  });

  test('drops empty list members', () => {
    expect(setBaggageMember('a=1,,b=2,', K, 'feat1')).toBe(`a=1,b=2,${K}=feat1`);
  });

  test('round-trips with baggageMember', () => {
    const out = setBaggageMember(`a=1,${K}=old;p=1`, K, 'feat9');
    expect(baggageMember(out, K)).toBe('feat9');
    expect(baggageMember(out, 'a')).toBe('1');
  });
});
