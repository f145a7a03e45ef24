package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/dealerai/integrations/shared/resources"
)

// AddChecks applies cdk-nag's AWS Solutions rules to everything under scope (the App):
// an unsuppressed finding becomes an error annotation, and `cdk synth` fails on it.
func AddChecks(scope constructs.IConstruct) {
	awscdk.Aspects_Of(scope).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
}

// suppress records a cdk-nag suppression on one construct and its children. appliesTo
// narrows it to specific findings (e.g. "Action::kms:GenerateDataKey*").
func suppress(construct constructs.IConstruct, rule, reason string, appliesTo []string) {
	sup := &cdknag.NagPackSuppression{Id: jsii.String(rule), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		a := make([]any, len(appliesTo))
		for i, v := range appliesTo {
			a[i] = v
		}
		sup.AppliesTo = &a
	}
	cdknag.NagSuppressions_AddResourceSuppressions(construct, &[]*cdknag.NagPackSuppression{sup}, jsii.Bool(true))
}

// suppressions lists the stack's accepted findings, each on the one resource it concerns.
// (The public API routes' APIG4 suppressions are made where the routes are created.)
func (s *Stack) suppressions() {
	// Writing to a table encrypted with a customer-managed key takes the KMS
	// envelope-encryption actions DynamoDB performs on the caller's behalf, written as the
	// action families kms:GenerateDataKey* and kms:ReEncrypt* (Table.grantReadWriteData adds
	// them for the api and delivery functions; the sync function gets the same key actions
	// with its narrower table grant). The statement's only resource is the tables' key.
	for _, fn := range []string{FuncAPI, FuncDelivery, FuncSync} {
		suppress(s.Functions[fn].Role(), "AwsSolutions-IAM5",
			"kms:GenerateDataKey* and kms:ReEncrypt* are the data-key operations DynamoDB performs with the tables' customer-managed key on this function's behalf when it writes; the statement is limited to that one key",
			[]string{"Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"})
	}
	// A grant on a table that has indexes covers them too, written <table ARN>/index/*: the
	// config table's one index is SyncDue (keys only), which the sync function queries.
	cfgTable := s.Tables[resources.ConfigTable.ID].Node().DefaultChild().(awscdk.CfnElement)
	cfgID, _ := s.Stack.Resolve(s.Stack.GetLogicalId(cfgTable)).(string)
	for _, fn := range FunctionNames() {
		suppress(s.Functions[fn].Role(), "AwsSolutions-IAM5",
			"<config table ARN>/index/* is the config table's own indexes, which CDK's Table grants add when a table has one: its only index is SyncDue (keys only: dealer, platform, due time), which the sync function queries",
			[]string{"Resource::<" + cfgID + ".Arn>/index/*"})
	}
	// The inventory table's indexes are ByPrice and ByYear (one dealer's vehicles in price or
	// year order), which the API queries.
	invTable := s.Tables[resources.InventoryTable.ID].Node().DefaultChild().(awscdk.CfnElement)
	invID, _ := s.Stack.Resolve(s.Stack.GetLogicalId(invTable)).(string)
	for _, fn := range []string{FuncAPI, FuncSync} {
		suppress(s.Functions[fn].Role(), "AwsSolutions-IAM5",
			"<inventory table ARN>/index/* is the inventory table's own indexes, which CDK's Table grants add when a table has one: ByPrice and ByYear, one dealer's vehicles in price or year order, which the API queries",
			[]string{"Resource::<" + invID + ".Arn>/index/*"})
	}
}
