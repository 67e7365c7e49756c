/**
 * What must outlive every deployment: the sessions table (linked WhatsApp devices cannot be
 * recreated without the phone), the key that encrypts it, and the API credentials.
 */
import { CfnOutput, RemovalPolicy, SecretValue, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Key, type IKey } from 'aws-cdk-lib/aws-kms';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';

/** The user GOWA's APP_BASIC_AUTH gets on first deploy (`{"basic_auth":"admin:<32 chars>"}`). */
export const INITIAL_API_USER = 'admin';

/** What the stateless stack needs from this one. */
export interface SessionData {
  /** Sessions and leases: pk/sk strings, TTL attribute `ttl`. */
  table: ITable;
  /** Customer-managed key of the table and of the secrets. */
  key: IKey;
  /** `{"basic_auth":"user:pass,..."}`, read by the function. */
  apiCredentials: ISecret;
}

export class StatefulStack extends Stack {
  readonly data: SessionData;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    // The table and everything encrypted with this key stay readable only while the key exists:
    // it is retained with the table.
    const key = new Key(this, 'DataKey', {
      description: 'Encrypts the WhatsApp pin sessions table and API credentials',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const table = new Table(this, 'SessionsTable', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      timeToLiveAttribute: 'ttl',
      removalPolicy: RemovalPolicy.RETAIN,
    });

    // CloudFormation can generate a random string but not prefix it with "admin:". The password is
    // generated in a seed secret and composed into the credentials secret by a secretsmanager
    // dynamic reference, resolved by CloudFormation at create time: the value never appears in the
    // template, in the stack's events or in the cloud assembly. Later deployments leave the
    // credentials secret alone (its template does not change), so users added by the operator stay.
    const seed = new Secret(this, 'ApiPasswordSeed', {
      description: 'Initial API password (read once by CloudFormation to compose the API credentials)',
      encryptionKey: key,
      generateSecretString: {
        secretStringTemplate: '{}',
        generateStringKey: 'password',
        passwordLength: 32,
        excludePunctuation: true,
        requireEachIncludedType: true,
      },
    });
    const apiCredentials = new Secret(this, 'ApiCredentials', {
      description: 'Basic auth users of the pin API: {"basic_auth":"user:pass,user2:pass2"}',
      encryptionKey: key,
      secretStringValue: SecretValue.unsafePlainText(
        this.toJsonString({ basic_auth: `${INITIAL_API_USER}:${seed.secretValueFromJson('password').unsafeUnwrap()}` }),
      ),
    });

    Validations.of(seed).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason: 'Read once by CloudFormation when the credentials secret is created; nothing uses it afterwards, so rotating it would protect nothing.',
    });
    Validations.of(apiCredentials).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'Holds HTTP Basic passwords that API clients (GOWA APP_BASIC_AUTH format) keep in their own configuration; an automatic rotation could not hand the new password to them. Operators rotate by editing the secret (infra/DEPLOY.md); the function refetches it within 5 minutes without a redeploy.',
    });

    this.data = { table, key, apiCredentials };

    new CfnOutput(this, 'TableName', { value: table.tableName, description: 'Sessions table (npm run login -- --table <name>)' });
    new CfnOutput(this, 'SecretName', { value: apiCredentials.secretName, description: 'API credentials secret' });
  }
}
