import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { assertFolderName } from '../core/layout.js';
import { DEFAULT_UI_BIND, DEFAULT_UI_PORT } from '../executor/ui/defaults.js';
import { EXIT, writeError } from './errors.js';

const EXIT_CODES_HELP = `
Exit codes:
  0   success
  1   error (the message says what to do)
  2   usage error
  3   fte claim: another agent owns the item
  4   fte claim: no such item in Needs_Action/
  65  bad data (a file or argument that cannot be what it claims to be)
  69  a service fte needs refused for good (model or Kubernetes API)
  70  internal error (a bug; FTE_DEBUG=1 prints the stack)
  75  the remote was needed but could not be reached, or was refused (fte status says why)
  78  refused by configuration (a missing or wrong setting, or the operator found send credentials)
`;

const program = new Command('fte')
  .description(
    'A personal AI employee: the cloud drafts, the local executive acts, a git-synced vault in between.',
  )
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText('after', EXIT_CODES_HELP)
  .exitOverride();

const vaultOption = () =>
  new Option('--vault <dir>', 'vault directory').env('FTE_VAULT').makeOptionMandatory();
/** `--agent`: a folder name too, checked here so a bad one is a usage error (exit 2) for every command. */
const agentOption = (fallback: string) =>
  new Option('--agent <name>', 'agent name (folder under In_Progress/)')
    .env('FTE_AGENT')
    .default(fallback)
    .argParser((value: string) => {
      try {
        return assertFolderName('agent', value);
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message);
      }
    });

program
  .command('init')
  .description(
    'create a vault (folders, Dashboard.md, Company_Handbook.md, .gitignore, git repo); never overwrites',
  )
  .argument('<dir>', 'vault directory to create or complete')
  .option('--remote <url>', 'git remote to sync with (an existing vault there is adopted)')
  .addOption(agentOption('local'))
  .action(async (dir: string, opts) => (await import('./commands/init.js')).run(dir, opts));

program
  .command('claim')
  .description('claim an item: move Needs_Action/<domain>/<id>.md to In_Progress/<agent>/ and push the claim')
  .argument('<id>', 'task id (the file name without .md)')
  .addOption(vaultOption())
  .addOption(agentOption('local'))
  .addHelpText(
    'after',
    '\nExit code 0 when this agent won the claim, 3 when another agent owns the item,\n4 when there is no such item, 75 when the remote is unreachable (nothing is claimed then).',
  )
  .action(async (id: string, opts) => (await import('./commands/claim.js')).run(id, opts));

program
  .command('sync')
  .description('fetch, rebase and push the vault; commits local changes first (secret files are refused)')
  .addOption(vaultOption())
  .addOption(agentOption('local'))
  .option('--once', 'one cycle, then exit')
  .option('--interval <seconds>', 'seconds between cycles', '10')
  .option(
    '--serve <[host:]port>',
    'also serve the vault port on loopback (the git-sync sidecar; token from FTE_VAULT_TOKEN_FILE or FTE_VAULT_TOKEN)',
  )
  .option(
    '--vault-resource <name>',
    "write each cycle's outcome to this Vault resource's status and take the interval (live) and agent from its spec",
  )
  .option(
    '--kubeconfig <file>',
    'with --vault-resource: kubeconfig to use (else $KUBECONFIG, in-cluster, ~/.kube/config)',
  )
  .option(
    '--namespace <ns>',
    "with --vault-resource: the Vault's namespace (else $POD_NAMESPACE or the context's)",
  )
  .action(async (opts) => (await import('./commands/sync.js')).run(opts));

program
  .command('status')
  .description('list every task with its id, domain, phase, owner and path')
  .addOption(vaultOption())
  .option('--json', 'print JSON instead of a table')
  .action(async (opts) => (await import('./commands/status.js')).run(opts));

// ---- cloud operator (operator/) ----
program
  .command('operator')
  .description(
    'the cloud operator: mirror the vault into tasks, claim, triage and draft replies as approval requests (never sends)',
  )
  .addOption(vaultOption())
  .addOption(agentOption('cloud'))
  .option(
    '--store <kind>',
    'where tasks live: kube (Task resources, leader-elected; the default inside a cluster) or memory (in-process; the default elsewhere and with --once)',
  )
  .option(
    '--kubeconfig <file>',
    'with --store kube or --vault-resource: kubeconfig to use (else $KUBECONFIG, in-cluster, ~/.kube/config)',
  )
  .option(
    '--namespace <ns>',
    "with --store kube or --vault-resource: namespace of the Tasks and the Vault (else $POD_NAMESPACE or the context's)",
  )
  .option('--once', 'sync, mirror, reconcile until no runnable work is left, sync, exit')
  .option(
    '--port <n>',
    'port of /healthz, /readyz and /metrics; 0 = no server (default: 9464, none with --once)',
  )
  .option('--interval <seconds>', 'seconds between git syncs when running as a daemon', '10')
  .option(
    '--ui-port <port>',
    'serve the read-only status page here (FTE_UI_BIND, default 127.0.0.1; any other bind needs FTE_UI_PASSWORD_HASH or FTE_UI_TOKEN)',
  )
  .option(
    '--vault-port <url>',
    'apply every change through the git-sync sidecar at this loopback URL (fte sync --serve) instead of running git; token from FTE_VAULT_TOKEN_FILE or FTE_VAULT_TOKEN; waits up to FTE_VAULT_PORT_WAIT_SECONDS (60) for it to answer',
  )
  .option(
    '--vault-resource <name>',
    'take the agent, enabled domains and drafter settings from this Vault resource (domains and drafter follow kubectl edit live); uses --kubeconfig and --namespace',
  )
  .addHelpText(
    'after',
    `
Drafts with Claude when ANTHROPIC_API_KEY is set (FTE_CLAUDE_MODEL, default claude-sonnet-4-6), with a
plain template otherwise. Refuses to start (exit 78) when send credentials are in the environment
(SMTP_PASSWORD, WHATSAPP_SESSION*, BANK_*, *_BANK_TOKEN, PAYMENT_*TOKEN, FTE_APPROVAL_KEY[_FILE]).
Without --once it runs until SIGTERM, then finishes the step in flight and pushes.
Settings: FTE_APPROVAL_TTL_HOURS (48), FTE_RESYNC_SECONDS (60), FTE_OPERATOR_WORKERS (2),
FTE_OPERATOR_MAX_ATTEMPTS (5), FTE_OPERATOR_BACKOFF_MS (500), FTE_OPERATOR_BIND (127.0.0.1),
FTE_LOG_LEVEL (info; JSON logs on stderr).
With --store kube (needs the CRDs of crds/ and the RBAC of charts/fte): only the holder of the Lease
FTE_LEASE_NAME (fte-operator) works; FTE_LEASE_DURATION_SECONDS (15), FTE_LEASE_RENEW_DEADLINE_SECONDS (10),
FTE_LEASE_RETRY_PERIOD_SECONDS (2); identity $POD_NAME, else host-pid. Losing the lease exits with 1.`,
  )
  .action(async (opts) => (await import('./commands/operator.js')).run(opts));

// ---- local executive (executor/) ----
program
  .command('executor')
  .description(
    'the local executive: sync, take in approvals, send approved emails at most once, merge Updates/ into Dashboard.md',
  )
  .addOption(vaultOption())
  .addOption(agentOption('local'))
  .option('--once', 'one full pass, then exit')
  .option('--interval <seconds>', 'seconds between passes', '10')
  .option(
    '--ui-port <port>',
    `status page port (default FTE_UI_PORT, else ${DEFAULT_UI_PORT}; 0 = any free port)`,
  )
  .option('--ui-bind <address>', `status page address (default FTE_UI_BIND, else ${DEFAULT_UI_BIND})`)
  .option('--no-ui', 'do not serve the status page')
  .addHelpText(
    'after',
    `
Status page (not with --once): http://127.0.0.1:${DEFAULT_UI_PORT}/ (its address is printed at start; fte ui
opens it). Any bind other than loopback refuses to start without FTE_UI_PASSWORD_HASH (a bcrypt hash:
fte ui hash-password) or FTE_UI_TOKEN (>= 32 characters).
Sending: SMTP_HOST, SMTP_PORT, SMTP_SECURE, SMTP_USER, SMTP_PASSWORD, SMTP_FROM; FTE_SENT_COPY=1 with IMAP_*
files a copy in Sent. Approvals are signed with FTE_APPROVAL_KEY_FILE (default ~/.config/fte/approval.key).
Limits are this laptop's own, from the environment, else FTE_EXECUTOR_CONFIG (default
$XDG_CONFIG_HOME/fte/executor.json: {"rate_per_hour": {"send_email": 20}, "dry_run": false,
"allowed_actions": ["send_email"], "owner": "me"}), else defaults: FTE_EMAIL_RATE_PER_HOUR (10), DRY_RUN,
FTE_ALLOWED_ACTIONS (comma-separated), FTE_OWNER. Company_Handbook.md in the vault may only lower a rate.
State (the at-most-once ledger, the lock) lives outside the vault in FTE_STATE_DIR, else
$XDG_STATE_HOME/fte/<vault id>/ (default ~/.local/state/fte/<vault id>/), where no git operation reaches it.`,
  )
  .action(async (opts) => (await import('./commands/executor.js')).run(opts));

// ---- the executor as a user service, and its checks (fte executor install|uninstall, fte doctor) ----
{
  const executor = program.commands.find((c) => c.name() === 'executor')!;
  // `fte executor install --vault …`: options after a subcommand's name belong to the subcommand (the
  // program has no options but --help and --version, so this changes nothing else).
  program.enablePositionalOptions();
  executor.enablePositionalOptions();
  // Commander checks a parent's mandatory options before any subcommand too; `uninstall` needs no
  // vault, so the executor checks its own --vault only when it is the command that runs.
  const executorVault = executor.options.find((o) => o.long === '--vault')!;
  executorVault.mandatory = false;
  executor.hook('preAction', (self, actionCommand) => {
    if (actionCommand === self && self.getOptionValue('vault') === undefined)
      self.error(`error: required option '${executorVault.flags}' not specified`, {
        code: 'commander.missingMandatoryOptionValue',
      });
  });
  const platformOption = () =>
    new Option('--platform <os>', 'write for this system instead of this one').choices(['linux', 'darwin']);
  // Not `--env-file`: Node 20 takes any argument starting with that as its own option, even after the
  // script name, and exits 9 when the file is missing (nodejs/node#54232, #54255).
  const envFileOption = () =>
    new Option(
      '--env-path <file>',
      'the env file with the settings and secrets (default $XDG_CONFIG_HOME/fte/executor.env, else ~/.config/fte/executor.env)',
    );
  executor
    .command('install')
    .description(
      'run the executor as a user service: starts at login, restarts after a failure (systemd on Linux, launchd on macOS)',
    )
    .addOption(vaultOption())
    .addOption(agentOption('local'))
    .addOption(envFileOption())
    .option('--from-env', "fill a new env file with this shell's values of the settings it lists")
    .option('--no-enable', 'write the files only; print the commands that start the service')
    .option('--dry-run', 'print the unit (or plist) without writing anything')
    .option('--print', 'the same as --dry-run')
    .addOption(platformOption())
    .addHelpText(
      'after',
      `
Linux: writes $XDG_CONFIG_HOME/systemd/user/fte-executor.service (default ~/.config/systemd/user/), then runs
systemctl --user daemon-reload, enable and restart. Logs: journalctl --user -u fte-executor.
macOS: writes ~/Library/LaunchAgents/dev.fte.executor.plist and loads it with launchctl bootstrap gui/<uid>.
Logs: ~/Library/Logs/fte/executor.log.
The service runs this fte with this node (${process.execPath}) and reads every setting from the env
file (mode 0600, its folder 0700, refused inside the vault). A new env file is a commented template; an
existing one is kept as it is (only its mode is tightened to 0600). The unit or plist holds no secret.
Run it again after moving fte or node.`,
    )
    .action(async (opts) =>
      (await import('./commands/executor-service.js')).runInstall({
        ...opts,
        dryRun: Boolean(opts.dryRun || opts.print),
      }),
    );
  executor
    .command('uninstall')
    .description('stop the executor service and remove its unit (or plist); the env file is kept')
    .option('--no-enable', 'remove the file only; print the command that stops the service')
    .addOption(envFileOption())
    .addOption(platformOption())
    .action(async (opts) => (await import('./commands/executor-service.js')).runUninstall(opts));

  program
    .command('doctor')
    .description(
      "check this laptop's executor setup: key, SMTP login, vault clone and remote, clock, disk, status page, env file",
    )
    .addOption(vaultOption())
    .addOption(envFileOption())
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      `
One line per check: ok, warn or FAIL, the check's name and its verdict; under each warn or FAIL, what to do.
Settings come from the environment, overridden by the env file's (as the service sees them). Logs in to
the SMTP server without sending anything, asks the git remote for its newest commit (fetching it into
git's object store, no ref changed) and never prints a secret.
Exit code 0 when no check failed, 1 otherwise.`,
    )
    .action(async (opts) => (await import('./commands/doctor.js')).run(opts));
}

program
  .command('show')
  .description(
    'show what approving a draft would sign (every recipient and effect, the draft) without signing',
  )
  .argument('<id>', 'task id (the file name without .md)')
  .addOption(vaultOption())
  .addOption(agentOption('local'))
  .action(async (id: string, opts) => (await import('./commands/show.js')).run(id, opts));

program
  .command('approve')
  .description('approve a draft: sign it with the local approval key and move it to Approved/')
  .argument('<id>', 'task id (the file name without .md)')
  .addOption(vaultOption())
  .addOption(agentOption('local'))
  .option(
    '--seen <digest>',
    'sign only the version `fte show` printed this digest for (refused if it changed since)',
  )
  .action(async (id: string, opts) => (await import('./commands/approve.js')).run(id, opts));

program
  .command('reject')
  .description('reject a draft: move it and its item to Rejected/; nothing is sent')
  .argument('<id>', 'task id (the file name without .md)')
  .addOption(vaultOption())
  .addOption(agentOption('local'))
  .option('--reason <text>', 'why, recorded in the file and the audit log')
  .action(async (id: string, opts) => (await import('./commands/reject.js')).run(id, opts));

program
  .command('resolve')
  .description('decide an Uncertain send (the executor stopped mid-send): was it sent or not?')
  .argument('<id>', 'task id')
  .addOption(vaultOption())
  .addOption(agentOption('local'))
  .option('--sent', 'it did go out: finish without sending again')
  .option('--not-sent', 'it did not go out: send it again (same Message-ID)')
  .action(async (id: string, opts) => (await import('./commands/resolve.js')).run(id, opts));

const ui = program
  .command('ui')
  .description('open the status page of the running executor in the browser')
  .option('--print', 'print its address instead of opening a browser')
  .addHelpText(
    'after',
    `
The address comes from FTE_UI_BIND/FTE_UI_PORT (default http://${DEFAULT_UI_BIND}:${DEFAULT_UI_PORT}/), as fte executor uses them.`,
  )
  .action(async (opts) => (await import('./commands/ui.js')).open(opts));
ui.command('hash-password')
  .description('read a password on stdin and print its bcrypt hash, for FTE_UI_PASSWORD_HASH')
  .action(async () => (await import('./commands/ui.js')).hashPasswordFromStdin());

const mail = program.command('mail').description('the mailbox connection (OAuth2 sign-in for IMAP and SMTP)');
mail
  .command('login')
  .description(
    'sign in to the mailbox with OAuth2 (like a mail client) and write the token file (0600, outside the vault)',
  )
  .requiredOption('--provider <name>', 'google, microsoft or custom')
  .option(
    '--side <side>',
    'cloud (reads only: IMAP) or laptop (sends: SMTP, and IMAP for the Sent copy)',
    'laptop',
  )
  .option('--device', 'device-code flow (RFC 8628): for a machine without a browser')
  .option('--no-browser', 'print the sign-in address instead of opening a browser')
  .option('--user <address>', 'the mailbox address (default SMTP_USER or IMAP_USER)')
  .option('--out <file>', 'the token file (default SMTP_OAUTH_TOKEN_FILE or IMAP_OAUTH_TOKEN_FILE)')
  .option('--client-id <id>', 'your app registration (default FTE_OAUTH_CLIENT_ID)')
  .option('--client-secret <secret>', 'its secret, if it has one (default FTE_OAUTH_CLIENT_SECRET)')
  .option('--authorization-endpoint <url>', 'custom provider (or FTE_OAUTH_AUTHORIZATION_ENDPOINT)')
  .option('--token-endpoint <url>', 'custom provider (or FTE_OAUTH_TOKEN_ENDPOINT)')
  .option('--device-endpoint <url>', 'custom provider (or FTE_OAUTH_DEVICE_ENDPOINT)')
  .option('--scopes <list>', 'custom scopes, space or comma separated (or FTE_OAUTH_SCOPES)')
  .addHelpText(
    'after',
    `
Step-by-step app registration for Google and Microsoft: docs/oauth.md. The token file is then named by
IMAP_OAUTH_TOKEN_FILE (cloud, laptop Sent copy) and SMTP_OAUTH_TOKEN_FILE (laptop).`,
  )
  .action(async (opts) => (await import('./commands/mail.js')).mailLogin(opts));

// ---- Monday briefing (operator/briefing/, core/briefing/) ----
program
  .command('briefing')
  .description('compute the Monday briefing of a week and commit Briefings/<date>_Monday_Briefing.md')
  .addOption(vaultOption())
  .addOption(agentOption('cloud'))
  .option('--week <YYYY-Www>', 'ISO week, Monday to Sunday (default: the last complete week in FTE_TIMEZONE)')
  .option('--print', 'print the briefing instead of writing and committing it')
  .addHelpText(
    'after',
    `
Numbers come from data only: revenue from posted customer invoices (out_invoice) and inbound payments in
Odoo, targets from Business_Goals.md (monthly_revenue_target, weekly_revenue_target), tasks from Done/,
waits from Pending_Approval/, Rejected/ (expired) and Needs_Action/_errors/, subscription rules from the
"## Subscriptions" section of Company_Handbook.md, model spend from llm_call records in Logs/.
Environment: FTE_TIMEZONE (IANA zone of the week, default UTC); ODOO_URL, ODOO_DB, ODOO_LOGIN,
ODOO_API_KEY or ODOO_API_KEY_FILE (read access; without them the revenue section says "Odoo not configured");
ANTHROPIC_API_KEY (Claude writes the intro paragraph; without it a fixed template), FTE_CLAUDE_MODEL.
The file is committed in the vault; the next fte sync pushes it. See docs/briefing.md.`,
  )
  .action(async (opts) => (await import('./commands/briefing.js')).run(opts));

program
  .command('demo')
  .description(
    'the Platinum scenario end to end in temp dirs: cloud drafts, owner approves, local sends (make demo)',
  )
  .option('--keep', 'keep the temp dir (vaults, remote, outbox .eml files) afterwards')
  .option('--dir <dir>', 'run in this empty directory instead of a new temp dir')
  .action(async (opts) => (await import('./commands/demo.js')).run(opts));

/**
 * A daemon's stray rejection or exception (a timer, a socket callback) would otherwise end the process
 * with a stack trace or, worse, not at all: it is one line on stderr and a non-zero exit, like any error.
 */
function exitOnStray(kind: string) {
  return (error: unknown) => {
    const code = writeError(error, kind);
    process.exit(code === 0 ? EXIT.internal : code);
  };
}

async function main(): Promise<void> {
  process.on('unhandledRejection', exitOnStray('unhandled rejection'));
  process.on('uncaughtException', exitOnStray('uncaught exception'));
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its own one-line message (or the help) already.
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    process.exitCode = writeError(error);
  }
}

await main();
