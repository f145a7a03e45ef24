package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
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
	// grantReadWriteData on a table encrypted with a customer-managed key adds the KMS
	// envelope-encryption actions DynamoDB performs on the caller's behalf, written as the
	// action families kms:GenerateDataKey* and kms:ReEncrypt*. The statement's only
	// resource is the tables' key.
	for _, fn := range []string{FuncAPI, FuncDelivery} {
		suppress(s.Functions[fn].Role(), "AwsSolutions-IAM5",
			"kms:GenerateDataKey* and kms:ReEncrypt* come from Table.grantReadWriteData: the data-key operations DynamoDB performs with the tables' customer-managed key on this function's behalf; the statement is limited to that one key",
			[]string{"Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"})
	}
}
