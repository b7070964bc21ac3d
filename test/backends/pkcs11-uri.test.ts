// RFC 7512 `pkcs11:` URIs as keyward reads and writes them: the RFC's own examples parse,
// percent-encoding round-trips (labels with "/" and raw CKA_ID bytes), and what keyward
// refuses — a PIN in the URI, repeated or unknown attributes — is refused without echoing
// the PIN. Also the reconnect backoff: doubling from the first delay up to the cap.
import test from 'ava';
import { formatPkcs11Uri, parsePkcs11Uri } from '../../src/backends/pkcs11/pkcs11-uri.js';
import { ReconnectBackoff } from '../../src/backends/pkcs11/reconnect-backoff.js';
import { isKeywardError } from '../../src/core/keyward-error.js';

test('the RFC 7512 examples parse', (t) => {
  t.like(parsePkcs11Uri('pkcs11:object=my-pubkey;type=public'), { object: 'my-pubkey', type: 'public' });
  t.like(parsePkcs11Uri('pkcs11:object=my-key;type=private'), { object: 'my-key', type: 'private' });
  t.like(parsePkcs11Uri('pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BE%2D%C4'), {
    token: 'The Software PKCS#11 Softtoken',
    manufacturer: 'Snake Oil, Inc.',
    model: '1.0',
    object: 'my-certificate',
    type: 'cert',
  });
  t.deepEqual(parsePkcs11Uri('pkcs11:id=%69%95%3E%5C%F4%BE%2D%C4').id, Buffer.from([0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbe, 0x2d, 0xc4]));
  t.like(parsePkcs11Uri('pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?module-name=softhsm2'), {
    token: 'Software PKCS#11 softtoken',
    moduleName: 'softhsm2',
  });
  t.like(parsePkcs11Uri('pkcs11:slot-description=Sun%20Metaslot'), { slotDescription: 'Sun Metaslot' });
  t.like(parsePkcs11Uri('pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23'), {
    libraryManufacturer: 'Snake Oil, Inc.',
    libraryDescription: 'Soft Token Library',
  });
  t.like(parsePkcs11Uri('pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert'), {
    token: 'A name with a substring %;',
  });
  t.like(parsePkcs11Uri('pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert'), {
    token: 'Name with a small A with acute: á',
  });
  // Vendor attributes are ignored when they carry the x- prefix (unknown ones are refused).
  t.like(parsePkcs11Uri('pkcs11:token=my-token;object=my-certificate;type=cert;x-vendor-aaa=value-a?x-vendor-bbb=value-b'), {
    token: 'my-token',
    object: 'my-certificate',
  });
  t.deepEqual(parsePkcs11Uri('pkcs11:'), {});
  t.like(parsePkcs11Uri('pkcs11:slot-id=1145036351'), { slotId: 1145036351 });
  t.like(parsePkcs11Uri('pkcs11:token=k?module-path=/usr/lib/softhsm/libsofthsm2.so'), { modulePath: '/usr/lib/softhsm/libsofthsm2.so' });
});

test('formatting percent-encodes what is not unreserved, and parses back', (t) => {
  const id = Buffer.from([0x00, 0x2f, 0xff, 0x41]);
  const uri = formatPkcs11Uri({ token: 'keyward prod', object: 'keyward/payments-db/v12', id, type: 'secret-key' });
  t.is(uri, 'pkcs11:token=keyward%20prod;object=keyward%2Fpayments-db%2Fv12;id=%00%2F%FFA;type=secret-key');
  t.like(parsePkcs11Uri(uri), { token: 'keyward prod', object: 'keyward/payments-db/v12', type: 'secret-key' });
  t.deepEqual(parsePkcs11Uri(uri).id, id);
  t.is(formatPkcs11Uri({ token: 'á' }), 'pkcs11:token=%C3%A1');
});

test('a PIN in the URI, repeated, unknown or malformed attributes are refused; the PIN is never echoed', (t) => {
  const refused = (uri: string, pattern: RegExp) => {
    const err = t.throws(() => parsePkcs11Uri(uri));
    t.true(isKeywardError(err, 'invalid-argument'), uri);
    t.regex(err!.message, pattern, uri);
    return err!;
  };
  const pin = refused('pkcs11:token=k?pin-value=s3cr3t-P1N', /"pin-value" is not accepted/);
  t.false(pin.message.includes('s3cr3t-P1N'));
  refused('pkcs11:token=k?pin-source=file:/run/pin', /"pin-source" is not accepted/);
  refused('pkcs11:token=a;token=b', /"token" appears more than once/);
  refused('pkcs11:colour=blue', /unknown path attribute "colour"/);
  refused('pkcs11:token=k?colour=blue', /unknown query attribute "colour"/);
  refused('pkcs11:token=%4', /malformed percent-encoding/);
  refused('pkcs11:token=%C3%28', /not UTF-8/);
  refused('pkcs11:type=key', /"type" must be one of/);
  refused('pkcs11:slot-id=12a', /"slot-id" must be a decimal number/);
  refused('pkcs11:s3cr3t', /every path attribute must be name=value$/);
  refused('pkcs12:token=k', /must start with "pkcs11:"/);
});

test('reconnect backoff doubles from the first delay to the cap, with jitter within [50 %, 100 %]', (t) => {
  const exact = new ReconnectBackoff({ initialMs: 100, maxMs: 1000, jitter: () => 1 });
  t.deepEqual(Array.from({ length: 7 }, () => exact.next()), [100, 200, 400, 800, 1000, 1000, 1000]);
  t.is(exact.attempts, 7);
  exact.reset();
  t.is(exact.next(), 100);
  const low = new ReconnectBackoff({ initialMs: 100, maxMs: 1000, jitter: () => 0 });
  t.deepEqual([low.next(), low.next()], [50, 100]);
  const random = new ReconnectBackoff({ initialMs: 100, maxMs: 1000 });
  for (let i = 0; i < 50; i++) {
    const delay = random.next();
    t.true(delay >= 50 && delay <= 1000);
  }
  t.throws(() => new ReconnectBackoff({ initialMs: 0, maxMs: 10 }), { instanceOf: RangeError });
  t.throws(() => new ReconnectBackoff({ initialMs: 100, maxMs: 10 }), { instanceOf: RangeError });
});
