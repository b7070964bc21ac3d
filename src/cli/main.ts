#!/usr/bin/env node
// The `keyward` command: `serve` runs the daemon; the other commands are thin callers
// of its sockets through the client SDK, for operators and scripts — but for
// `keys escrow-recover`, which works offline on a stopped daemon's keystore.
import { toJson } from '@bufbuild/protobuf';
import { Command, Option } from 'commander';
import { KeySchema, type Key } from '../wire/gen/keyward/v1/key_admin_service_pb.js';
import { createKeyAdminClient, createKeyServiceClient, DEFAULT_ADMIN_SOCKET, DEFAULT_SOCKET } from '../client/keyward-client.js';
import { registerAuditCommand } from './audit-command.js';
import { registerEscrowCommands } from './escrow-commands.js';
import { registerEscrowRecoverCommand } from './escrow-recover-command.js';
import { readStdin, writeStdout } from './io.js';
import { serve } from './serve-command.js';
import { isKeywardError } from '../core/keyward-error.js';

const program = new Command()
  .name('keyward')
  .description('Per-host key custody daemon and its command-line client')
  .showHelpAfterError();

const socketOption = () => new Option('--socket <path>', 'data plane socket').default(DEFAULT_SOCKET);
const adminSocketOption = () => new Option('--admin-socket <path>', 'admin plane socket').default(DEFAULT_ADMIN_SOCKET);
const aadOption = () => new Option('--aad <text>', 'associated data (UTF-8), bound to the ciphertext').default('');
const base64Option = () => new Option('--base64', 'read and write base64 text instead of raw bytes');

program
  .command('serve')
  .description('run the daemon')
  .requiredOption('-c, --config <file>', 'configuration file (YAML)')
  .action(async (opts: { config: string }) => serve(opts.config));

program
  .command('encrypt')
  .description('encrypt stdin under a key and write the ciphertext to stdout')
  .requiredOption('--key-id <id>', 'encryption key id')
  .addOption(aadOption())
  .addOption(base64Option())
  .addOption(socketOption())
  .action(async (opts: { keyId: string; aad: string; base64?: boolean; socket: string }) => {
    const client = createKeyServiceClient(opts.socket);
    try {
      const res = await client.encrypt({
        keyId: opts.keyId,
        plaintext: await readStdin(),
        associatedData: Buffer.from(opts.aad, 'utf8'),
      });
      await writeStdout(opts.base64 ? Buffer.from(`${Buffer.from(res.ciphertext).toString('base64')}\n`) : res.ciphertext);
    } finally {
      client.close();
    }
  });

program
  .command('decrypt')
  .description('decrypt a ciphertext from stdin and write the plaintext to stdout')
  .addOption(aadOption())
  .addOption(base64Option())
  .addOption(socketOption())
  .action(async (opts: { aad: string; base64?: boolean; socket: string }) => {
    const client = createKeyServiceClient(opts.socket);
    try {
      const input = await readStdin();
      const ciphertext = opts.base64 ? Buffer.from(input.toString('utf8').trim(), 'base64') : input;
      const res = await client.decrypt({ ciphertext, associatedData: Buffer.from(opts.aad, 'utf8') });
      await writeStdout(res.plaintext);
    } finally {
      client.close();
    }
  });

const keys = program.command('keys').description('key administration (admin socket; escrow-recover: offline)');

/** Prints keys in protobuf's canonical JSON, as the Connect JSON API returns them. */
function printJson(value: Key | Key[] | undefined): void {
  const json = Array.isArray(value) ? value.map((k) => toJson(KeySchema, k)) : value && toJson(KeySchema, value);
  process.stdout.write(`${JSON.stringify(json ?? null, null, 2)}\n`);
}

keys
  .command('list')
  .addOption(adminSocketOption())
  .action(async (opts: { adminSocket: string }) => {
    const client = createKeyAdminClient(opts.adminSocket);
    try {
      printJson((await client.listKeys({})).keys);
    } finally {
      client.close();
    }
  });

keys
  .command('describe <key-id>')
  .addOption(adminSocketOption())
  .action(async (keyId: string, opts: { adminSocket: string }) => {
    const client = createKeyAdminClient(opts.adminSocket);
    try {
      printJson((await client.describeKey({ keyId })).key);
    } finally {
      client.close();
    }
  });

keys
  .command('rotate <key-id>')
  .addOption(adminSocketOption())
  .action(async (keyId: string, opts: { adminSocket: string }) => {
    const client = createKeyAdminClient(opts.adminSocket);
    try {
      printJson((await client.rotateKey({ keyId })).key);
    } finally {
      client.close();
    }
  });

registerEscrowCommands(keys, adminSocketOption);
registerEscrowRecoverCommand(keys);

registerAuditCommand(program);

// One place prints what a command failed with: a KeywardError with its code, a gRPC
// error with its details, anything else with its message.
program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as { code?: unknown; details?: string; message?: string };
  const text = isKeywardError(err) ? `${err.code}: ${err.message}` : (e.details ?? e.message ?? String(err));
  process.stderr.write(`keyward: ${text}\n`);
  process.exit(1);
});
