import functions from '@azure/functions';
import { FUNCTIONS } from './all.js';
import type { FunctionDefinition } from './define.js';

/**
 * Entry module for the Functions host (package.json `main`). Registers every definition from the
 * shared list. Queue functions bind to Storage Queues or Service Bus by QUEUE_TRANSPORT, on the
 * connection named JobsStorage or ServiceBus (identity-based in Azure).
 */
// @azure/functions is a CommonJS bundle whose named exports Node's ESM loader cannot see.
const { app } = functions;
const serviceBus = (process.env.QUEUE_TRANSPORT ?? 'storage').trim() === 'servicebus';

function register(def: FunctionDefinition): void {
  switch (def.kind) {
    case 'http':
      app.http(def.name, {
        route: def.route,
        methods: [...def.methods],
        authLevel: def.authLevel,
        handler: def.handler,
      });
      return;
    case 'queue': {
      const queue = `%${def.queueSetting}%`;
      if (serviceBus) {
        app.serviceBusQueue(def.name, {
          connection: 'ServiceBus',
          queueName: def.deadLetter ? `${queue}/$deadletterqueue` : queue,
          handler: def.handler,
        });
      } else {
        app.storageQueue(def.name, {
          connection: 'JobsStorage',
          queueName: def.deadLetter ? `${queue}-poison` : queue,
          handler: def.handler,
        });
      }
      return;
    }
    case 'timer':
      app.timer(def.name, { schedule: `%${def.scheduleSetting}%`, handler: (_timer, context) => def.handler(context) });
      return;
    default: {
      const unreachable: never = def;
      throw new Error(`unknown function kind ${JSON.stringify(unreachable)}`);
    }
  }
}

app.setup({ enableHttpStream: false });
for (const def of FUNCTIONS) register(def);
