// What a plan, a log line, an audit row or the catalog shows of a database URL: never a secret,
// wherever libpq lets the URL carry one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactUrl } from '../../src/postgres/connection.ts';

test('redactUrl hides the password in the authority and in query parameters', () => {
  assert.equal(redactUrl('postgres://app:s3cret@db:5432/app'), 'postgres://app:***@db:5432/app');
  assert.equal(redactUrl('postgres://app@db/app?password=s3cret&sslmode=require'), 'postgres://app@db/app?password=***&sslmode=require');
  assert.equal(redactUrl('postgres://app@db/app?sslmode=verify-full&SSLPASSWORD=keypass'), 'postgres://app@db/app?sslmode=verify-full&SSLPASSWORD=***');
  assert.equal(redactUrl('postgres://db/app?application_name=lifeboat'), 'postgres://db/app?application_name=lifeboat');
});
