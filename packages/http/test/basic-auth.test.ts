import { describe, expect, it } from 'vitest';
import { basicChallenge, parseBasicAuthorization } from '../src/index.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

describe('parseBasicAuthorization (RFC 7617, RFC 9110 §11.4)', () => {
  it('decodes user and password; the password may hold colons and UTF-8', () => {
    expect(parseBasicAuthorization(`Basic ${b64('admin:s3:cret')}`)).toEqual({ user: 'admin', password: 's3:cret' });
    expect(parseBasicAuthorization(`Basic ${b64('jürgen:pässwörd')}`)).toEqual({
      user: 'jürgen',
      password: 'pässwörd',
    });
    expect(parseBasicAuthorization(`Basic ${b64(':')}`)).toEqual({ user: '', password: '' });
  });

  it('the scheme is case-insensitive', () => {
    for (const scheme of ['basic', 'BASIC', 'bAsIc'])
      expect(parseBasicAuthorization(`${scheme} ${b64('a:b')}`)).toEqual({ user: 'a', password: 'b' });
  });

  it('one or more spaces separate scheme and credentials; a tab or nothing does not', () => {
    expect(parseBasicAuthorization(`Basic    ${b64('a:b')}`)).toEqual({ user: 'a', password: 'b' });
    expect(parseBasicAuthorization(`Basic\t${b64('a:b')}`)).toBeUndefined();
    expect(parseBasicAuthorization(`Basic${b64('a:b')}`)).toBeUndefined();
  });

  it("whitespace around the field value is the field's and is ignored", () => {
    expect(parseBasicAuthorization(` \tBasic ${b64('a:b')} \t`)).toEqual({ user: 'a', password: 'b' });
  });

  it('refuses other schemes, non-base64 text, and credentials without a colon', () => {
    expect(parseBasicAuthorization(undefined)).toBeUndefined();
    expect(parseBasicAuthorization('Bearer abc')).toBeUndefined();
    expect(parseBasicAuthorization('Basic !!!')).toBeUndefined();
    expect(parseBasicAuthorization('Basic')).toBeUndefined();
    expect(parseBasicAuthorization(`Basic ${b64('nocolon')}`)).toBeUndefined();
    expect(parseBasicAuthorization(`Basic ${b64('a:b')} extra`)).toBeUndefined();
  });
});

describe('basicChallenge', () => {
  it('names the realm and UTF-8', () => {
    expect(basicChallenge('postern-gateway')).toBe('Basic realm="postern-gateway", charset="UTF-8"');
  });

  it('refuses a realm that cannot be sent as a quoted string as is', () => {
    for (const realm of ['a"b', 'a\\b', 'a\r\nb']) expect(() => basicChallenge(realm)).toThrow(TypeError);
  });
});
