// ContextSMS for Teams on Azure: an Azure Bot with the Teams channel, the bot's container on
// App Service for Linux, its secrets in Key Vault, Table storage shared by its instances
// (links, setup codes, audit trail), and Application Insights. Deploy with:
//   az deployment group create -g <rg> -f infra/main.bicep -p @infra/main.parameters.json
// See docs/deploy.md.

@description('Prefix of every resource name (letters and digits, 3 to 11 characters).')
@minLength(3)
@maxLength(11)
param namePrefix string

@description('Region of the resources (the Azure Bot itself is global).')
param location string = resourceGroup().location

@description('Client id of the bot\'s Entra app registration (MicrosoftAppId): multi-tenant (AzureADMultipleOrgs) to serve other organizations, see docs/deploy.md.')
param botAppId string

@description('Home tenant of that app registration (MicrosoftAppTenantId): the bot\'s own connector token comes from it.')
param botTenantId string = subscription().tenantId

@description('The bot\'s client secret. Stored in Key Vault, never in an app setting.')
@secure()
param botAppPassword string

@description('Container image of the bot, e.g. myregistry.azurecr.io/contextsms-teams:1.0.0.')
param containerImage string

@description('Name of the Azure Container Registry holding the image (same resource group); empty for a public image.')
param containerRegistryName string = ''

@description('ContextSMS API base URL.')
param contextsmsBaseUrl string = 'https://context-sms.sabrhub.com/api/v2'

@description('ContextSMS account (CSP_BUSINESS) the bot signs in with.')
param contextsmsUsername string

@description('Its password. Stored in Key Vault.')
@secure()
param contextsmsPassword string

@description('The CSP of that account.')
param contextsmsCspId string

@description('A deployment for a single organization only: the enterprise it acts on, linked at start to singleTenantId (set both, or neither: a reseller links each customer tenant with setup codes).')
param contextsmsEnterpriseId string = ''

@description('A deployment for a single organization only: the Entra tenant linked to contextsmsEnterpriseId.')
param singleTenantId string = ''

@description('The reseller\'s operators, as "tenantId:objectId" pairs separated by commas (their Entra tenant and object id).')
param botOperators string = ''

@description('Prefix of the bot\'s tables (links, setup codes, audit trail, conversation references, cached roles).')
param tablePrefix string = 'contextsms'

@description('Product name on the bot\'s cards (the reseller\'s brand).')
param productName string = 'ContextSMS'

@description('App Service plan size.')
@allowed(['B1', 'P0v3', 'P1v3'])
param appServiceSku string = 'P0v3'

@description('Instances of the bot: two or more for failover (they share their state in Table storage).')
@minValue(1)
param instanceCount int = 2

@description('Spread the instances over availability zones (Premium v3, 3 instances).')
param zoneRedundant bool = false

@description('Azure Bot pricing tier: F0 (free, standard channels) or S1.')
@allowed(['F0', 'S1'])
param botSku string = 'F0'

var suffix = uniqueString(resourceGroup().id, namePrefix)
var appName = '${namePrefix}-bot-${suffix}'
var port = '8000'

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${namePrefix}-logs-${suffix}'
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${namePrefix}-ai-${suffix}'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

// The app's identity: reads the Key Vault secrets that its app settings reference.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-id-${suffix}'
  location: location
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: App Service reads Key Vault references over the public endpoint unless the app is VNet-integrated (docs/deploy.md, hardening)
  // checkov:skip=CKV_AZURE_189: same reason: without VNet integration public network access must stay on; RBAC guards the secrets
  name: take(toLower('${namePrefix}kv${suffix}'), 24)
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled' // App Service reaches it over the public endpoint
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource botPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'bot-app-password'
  properties: {
    value: botAppPassword
    contentType: 'text/plain'
    attributes: { exp: dateTimeToEpoch(dateTimeAdd(utcNow(), 'P1Y')) }
  }
}

resource contextsmsPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'contextsms-password'
  properties: {
    value: contextsmsPassword
    contentType: 'text/plain'
    attributes: { exp: dateTimeToEpoch(dateTimeAdd(utcNow(), 'P1Y')) }
  }
}

// Key Vault Secrets User, for the app's identity only.
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, 'secrets-user')
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: reached from App Service without VNet integration; shared keys are off, access is by Entra identity only
  // checkov:skip=CKV_AZURE_43: the name is lower-case letters and digits, at most 24: take(toLower(...)) of a checked prefix and uniqueString, which checkov cannot evaluate
  name: take(toLower('${namePrefix}st${suffix}'), 24)
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_GRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false // the app uses its identity, not account keys
  }
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// The bot's tables (bot/storage/azure_table.py); the bot creates any that are missing.
var tableKinds = ['Links', 'Codes', 'Failures', 'Audit', 'References', 'Roles', 'TeamSettings', 'BulkRuns']

resource botTables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for kind in tableKinds: {
  parent: tables
  name: '${tablePrefix}${kind}'
}]

// Storage Table Data Contributor, for the app's identity.
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, 'table-contributor')
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = if (!empty(containerRegistryName)) {
  name: containerRegistryName
}

// AcrPull, so that App Service pulls the image with the app's identity (no registry password).
resource acrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(containerRegistryName)) {
  name: guid(resourceGroup().id, containerRegistryName, identity.id, 'acr-pull')
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions', '7f951dda-4ed3-4680-a7ca-43fe172d538d')
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy needs Premium v3 with 3 instances; set zoneRedundant=true where the region and budget allow
  name: '${namePrefix}-plan-${suffix}'
  location: location
  kind: 'linux'
  sku: { name: appServiceSku, capacity: instanceCount }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource app 'Microsoft.Web/sites@2023-12-01' = {
  // checkov:skip=CKV_AZURE_222: the Bot Connector calls the messaging endpoint over the internet; every request must carry its JWT
  // checkov:skip=CKV_AZURE_17: the Bot Connector authenticates with a signed JWT and presents no client certificate
  name: appName
  location: location
  kind: 'app,linux,container'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false // the Bot Connector authenticates with a JWT, not a certificate
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      linuxFxVersion: 'DOCKER|${containerImage}'
      acrUseManagedIdentityCreds: !empty(containerRegistryName)
      acrUserManagedIdentityID: empty(containerRegistryName) ? null : identity.properties.clientId
      alwaysOn: true
      numberOfWorkers: instanceCount
      http20Enabled: true
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      healthCheckPath: '/healthz'
      appSettings: concat([
        { name: 'WEBSITES_PORT', value: port }
        { name: 'PORT', value: port }
        { name: 'HOST', value: '0.0.0.0' }
        { name: 'MicrosoftAppId', value: botAppId }
        { name: 'MicrosoftAppType', value: 'SingleTenant' }
        { name: 'MicrosoftAppTenantId', value: botTenantId }
        { name: 'MicrosoftAppPassword', value: '@Microsoft.KeyVault(SecretUri=${botPasswordSecret.properties.secretUri})' }
        { name: 'CONTEXTSMS_BASE_URL', value: contextsmsBaseUrl }
        { name: 'CONTEXTSMS_USERNAME', value: contextsmsUsername }
        { name: 'CONTEXTSMS_PASSWORD', value: '@Microsoft.KeyVault(SecretUri=${contextsmsPasswordSecret.properties.secretUri})' }
        { name: 'CONTEXTSMS_CSP_ID', value: contextsmsCspId }
        { name: 'BOT_PRODUCT_NAME', value: productName }
        { name: 'BOT_OPERATORS', value: botOperators }
        // Every instance shares links, codes, the audit trail and references in Table
        // storage, reached with the app's managed identity (DefaultAzureCredential reads
        // AZURE_CLIENT_ID); shared keys are off on the account.
        { name: 'BOT_STORAGE', value: 'azure_table' }
        { name: 'BOT_TABLE_ACCOUNT_URL', value: storage.properties.primaryEndpoints.table }
        { name: 'BOT_TABLE_PREFIX', value: tablePrefix }
        { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
      ], empty(contextsmsEnterpriseId) ? [] : [
        { name: 'CONTEXTSMS_ENTERPRISE_ID', value: contextsmsEnterpriseId }
        { name: 'CONTEXTSMS_TENANT_ID', value: singleTenantId }
      ])
    }
  }
  dependsOn: [secretsUser, tableContributor, acrPull, botTables]
}

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: '${namePrefix}-${suffix}'
  location: 'global'
  kind: 'azurebot'
  sku: { name: botSku }
  properties: {
    displayName: productName
    endpoint: 'https://${app.properties.defaultHostName}/api/messages'
    msaAppId: botAppId
    msaAppType: 'SingleTenant'
    msaAppTenantId: botTenantId
    developerAppInsightKey: insights.properties.InstrumentationKey
    disableLocalAuth: true
  }
}

resource teams 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
      acceptedTerms: true
    }
  }
}

@description('The bot\'s host name: the brand file\'s "domain" for `make package`.')
output botDomain string = app.properties.defaultHostName
@description('The messaging endpoint registered on the Azure Bot.')
output messagingEndpoint string = bot.properties.endpoint
output keyVaultName string = vault.name
output appServiceName string = app.name
