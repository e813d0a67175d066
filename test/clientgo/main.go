// Command clientgo proves that syncflow's resources work with client-go, the Go client every
// Kubernetes controller and tool uses. It talks to kube-apiserver only (CRDs directly, executions
// through the aggregator) and prints what the server returned as JSON on stdout.
//
//	clientgo -kubeconfig FILE -namespace NS list-workflows
//	clientgo -kubeconfig FILE -namespace NS create-execution -workflow NAME [-input JSON] [-label k=v] [-dry-run]
//	clientgo -kubeconfig FILE -namespace NS list-executions [-selector SEL] [-field-selector SEL] [-limit N]
//
// Exit status: 0 success, 1 API error (the Status is printed on stderr as JSON), 2 usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	workflowsResource  = schema.GroupVersionResource{Group: "syncflow.io", Version: "v1alpha1", Resource: "workflows"}
	executionsResource = schema.GroupVersionResource{Group: "execution.syncflow.io", Version: "v1alpha1", Resource: "workflowexecutions"}
)

// usageError marks mistakes in the command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func main() {
	global := flag.NewFlagSet("clientgo", flag.ContinueOnError)
	kubeconfig := global.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	namespace := global.String("namespace", "default", "namespace")
	timeout := global.Duration("timeout", 30*time.Second, "request timeout")
	if err := global.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if global.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: clientgo [-kubeconfig FILE] [-namespace NS] list-workflows|create-execution|list-executions [flags]")
		os.Exit(2)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	result, err := run(ctx, *kubeconfig, *namespace, global.Arg(0), global.Args()[1:])
	if err != nil {
		os.Exit(report(err))
	}
	out, err := json.MarshalIndent(result, "", "  ")
	if err != nil {
		os.Exit(report(err))
	}
	fmt.Println(string(out))
}

func run(ctx context.Context, kubeconfig, namespace, command string, args []string) (any, error) {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %q: %w", kubeconfig, err)
	}
	config.UserAgent = "syncflow-clientgo-e2e"
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}

	flags := flag.NewFlagSet(command, flag.ContinueOnError)
	switch command {
	case "list-workflows":
		if err := flags.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		return client.Resource(workflowsResource).Namespace(namespace).List(ctx, metav1.ListOptions{})

	case "create-execution":
		workflow := flags.String("workflow", "", "name of the Workflow to run (required)")
		input := flags.String("input", "{}", "input as a JSON object")
		dryRun := flags.Bool("dry-run", false, "server-side dry run (returns the plan)")
		var labels labelFlags
		flags.Var(&labels, "label", "label k=v (repeatable)")
		if err := flags.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		if *workflow == "" {
			return nil, usageError{"create-execution: -workflow is required"}
		}
		var inputValue map[string]any
		if err := json.Unmarshal([]byte(*input), &inputValue); err != nil {
			return nil, usageError{fmt.Sprintf("create-execution: -input is not a JSON object: %v", err)}
		}
		execution := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": executionsResource.GroupVersion().String(),
			"kind":       "WorkflowExecution",
			"metadata":   map[string]any{"generateName": *workflow + "-"},
			"spec": map[string]any{
				"workflowRef": map[string]any{"name": *workflow},
				"input":       inputValue,
			},
		}}
		if len(labels) > 0 {
			execution.SetLabels(labels)
		}
		options := metav1.CreateOptions{}
		if *dryRun {
			options.DryRun = []string{metav1.DryRunAll}
		}
		return client.Resource(executionsResource).Namespace(namespace).Create(ctx, execution, options)

	case "list-executions":
		selector := flags.String("selector", "", "label selector")
		fieldSelector := flags.String("field-selector", "", "field selector")
		limit := flags.Int64("limit", 0, "page size (0: no limit)")
		if err := flags.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		return client.Resource(executionsResource).Namespace(namespace).List(ctx, metav1.ListOptions{
			LabelSelector: *selector, FieldSelector: *fieldSelector, Limit: *limit,
		})
	}
	return nil, usageError{fmt.Sprintf("unknown command %q", command)}
}

// report prints err on stderr (a Kubernetes Status as JSON when the server sent one) and returns the exit code.
func report(err error) int {
	var usage usageError
	if errors.As(err, &usage) {
		fmt.Fprintln(os.Stderr, usage.msg)
		return 2
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		out, _ := json.Marshal(status.Status())
		fmt.Fprintln(os.Stderr, string(out))
		return 1
	}
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// labelFlags collects repeated -label k=v flags.
type labelFlags map[string]string

func (l *labelFlags) String() string { return fmt.Sprint(map[string]string(*l)) }

func (l *labelFlags) Set(value string) error {
	key, val, ok := strings.Cut(value, "=")
	if !ok || key == "" {
		return fmt.Errorf("label %q is not k=v", value)
	}
	if *l == nil {
		*l = labelFlags{}
	}
	(*l)[key] = val
	return nil
}
