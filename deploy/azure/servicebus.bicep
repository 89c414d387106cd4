// Azure Service Bus entities for AOS (docs/design.md §2, docs/servicebus.md).
//
//   queues   aos.storage, aos.ml                 storage / ML operations (request/reply)
//            aos.agent.<agent> for each agent     turns; sessions keep one conversation in order
//            aos.reply                            all replies; session = requester instance id
//            aos.bot.outbound                     Bot Framework replies to deliver; session =
//                                                 conversation (docs/copilot-studio.md)
//   queue    aos.ingress                          CloudEvents from applications -> event turns
//   topic    aos.events, one subscription per consumer group (aos-router: the routers' heartbeats)
//   rule     namespace-level SAS rule for the services (Listen, Send, Manage)
//
// Deploy:  aosctl topology render servicebus --config aos.json > aos.parameters.json
//          az deployment group create -g <rg> -f deploy/azure/servicebus.bicep \
//            -p @aos.parameters.json -p namespaceName=<ns>
// See deploy/azure/README.md.

@description('Service Bus namespace name (globally unique, 6-50 characters).')
@minLength(6)
@maxLength(50)
param namespaceName string

@description('Region of the namespace.')
param location string = resourceGroup().location

@description('Standard or Premium: topics and sessions are not available on Basic.')
@allowed([
  'Standard'
  'Premium'
])
param skuName string = 'Standard'

@description('Agent names; each gets a queue aos.agent.<name>. Rendered from the agents of AOS_CONFIG: aosctl topology render servicebus (docs/deploy.md).')
param agents array

@description('Whether agent queues require sessions (group-id = conversation id = SessionId), so turns of one conversation are handled in order by one consumer at a time. The bus attaches to queues named aos.agent.* with the com.microsoft:session-filter; when this is false, set AOS_BUS_SESSION_QUEUES to an empty string (bus config session_queue_prefixes = "") for every service.')
param agentQueueSessions bool = true

@description('Consumer groups of the aos.events topic; each gets a subscription of that name. aos-router is where every router replica reads heartbeats, eventrelay where aos-storage's event relay forwards events to Event Grid / Kafka / the Storage queue (AOS_ROUTER_EVENTS_ADDRESS default; the replicas share agent health through storage, docs/servicebus.md); add one per application that reads events.')
param eventConsumers array = [
  'aos-router'
  'eventrelay'
]

@description('Deliveries before a message is dead-lettered (the bus uses the same limit).')
@minValue(1)
param maxDeliveryCount int = 5

@description('Peek-lock duration (ISO 8601). Long enough for one model call; the runner settles well before it.')
param lockDuration string = 'PT1M'

@description('Time-to-live of work messages (ISO 8601); expired messages go to the dead-letter queue.')
param messageTimeToLive string = 'P1D'

@description('Time-to-live of replies (ISO 8601): a reply nobody picked up in time is useless.')
param replyTimeToLive string = 'PT10M'

@description('Window for duplicate detection by message-id (the AOS idempotency key).')
param duplicateDetectionWindow string = 'PT10M'

@description('Name of the namespace-level SAS rule the services use.')
param authorizationRuleName string = 'aos-services'

var workQueueProperties = {
  lockDuration: lockDuration
  maxDeliveryCount: maxDeliveryCount
  deadLetteringOnMessageExpiration: true
  defaultMessageTimeToLive: messageTimeToLive
  requiresDuplicateDetection: true
  duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow
  requiresSession: false
  enablePartitioning: false
  maxSizeInMegabytes: 1024
}

resource ns 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  sku: {
    name: skuName
    tier: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    // SAS keys are how AOS authenticates (CBS put-token); keep local auth on.
    disableLocalAuth: false
  }
}

resource storageQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: ns
  name: 'aos.storage'
  properties: workQueueProperties
}

resource mlQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: ns
  name: 'aos.ml'
  properties: union(workQueueProperties, {
    // training submissions can take a while to hand over to Azure ML
    lockDuration: 'PT5M'
  })
}

resource agentQueues 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [for agent in agents: {
  parent: ns
  name: 'aos.agent.${agent}'
  properties: union(workQueueProperties, {
    requiresSession: agentQueueSessions
  })
}]

// Normal-mode Bot Framework replies and their contexts (docs/copilot-studio.md "Delivery");
// sessions keep one conversation in order. List it in AOS_BUS_SESSION_QUEUES
// ("aos.agent.,aos.bot.outbound") on the routers.
resource botOutboundQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: ns
  name: 'aos.bot.outbound'
  properties: union(workQueueProperties, {
    lockDuration: 'PT5M'
    requiresSession: true
  })
}

// One reply queue for every instance: Service Bus does not create queues on attach, so
// per-instance queues cannot appear on their own. A request carries reply-to = aos.reply and
// reply-to-group-id = the requester's instance id; the reply's SessionId is that id and each
// instance receives only its own session (com.microsoft:session-filter = instance id).
resource replyQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: ns
  name: 'aos.reply'
  properties: {
    lockDuration: 'PT30S'
    maxDeliveryCount: maxDeliveryCount
    deadLetteringOnMessageExpiration: false
    defaultMessageTimeToLive: replyTimeToLive
    requiresSession: true
    maxSizeInMegabytes: 1024
  }
}

// CloudEvents published by applications (docs/servicebus.md, "Publishing events to AOS"): each
// becomes a turn for every agent subscribed to its type, like POST /v1/events. Not
// session-enabled (applications need no SessionId); duplicate detection drops a re-published
// event id within the window, and the router's turn ids make it idempotent at any age.
resource ingressQueue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: ns
  name: 'aos.ingress'
  properties: workQueueProperties
}

resource eventsTopic 'Microsoft.ServiceBus/namespaces/topics@2024-01-01' = {
  parent: ns
  name: 'aos.events'
  properties: {
    defaultMessageTimeToLive: messageTimeToLive
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow
    supportOrdering: true
    maxSizeInMegabytes: 1024
  }
}

resource eventSubscriptions 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2024-01-01' = [for consumer in eventConsumers: {
  parent: eventsTopic
  name: consumer
  properties: {
    lockDuration: lockDuration
    maxDeliveryCount: maxDeliveryCount
    deadLetteringOnMessageExpiration: true
    deadLetteringOnFilterEvaluationExceptions: true
    defaultMessageTimeToLive: messageTimeToLive
    requiresSession: false
  }
}]

// Manage is included because the KEDA azure-servicebus scaler (deploy/k8s/keda.yaml) reads
// queue lengths with the same connection string; give services a Listen+Send rule instead if
// KEDA gets its own secret.
resource servicesRule 'Microsoft.ServiceBus/namespaces/authorizationRules@2024-01-01' = {
  parent: ns
  name: authorizationRuleName
  properties: {
    rights: [
      'Listen'
      'Send'
      'Manage'
    ]
  }
}

output namespaceHost string = '${ns.name}.servicebus.windows.net'
output authorizationRule string = servicesRule.name
output agentQueueNames array = [for agent in agents: 'aos.agent.${agent}']
output eventSubscriptionPaths array = [for consumer in eventConsumers: 'aos.events/Subscriptions/${consumer}']
