// Keeps the authorization benchmark runnable without running it: its 100-rule policy
// must still validate and still grant this process exactly Encrypt on the bench key,
// through the same identity the daemon would build (a restated identity once drifted
// and the section refused to run, unnoticed by any test).
import test from 'ava';
import { benchPolicies } from '../../bench/authz-bench.js';

test('the 100-rule bench policy validates and matches its own client by its last rule only', (t) => {
  const { hundredPolicy, grants } = benchPolicies();
  t.is(hundredPolicy.ruleCount, 100);
  t.deepEqual(grants.ruleNames, ['bench-client-encrypt']);
});
