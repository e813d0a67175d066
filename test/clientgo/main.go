// Command clientgo proves that syncflow's resources work with client-go, the Go client every
// Kubernetes controller and tool uses. It talks to kube-apiserver only (CRDs directly, executions
// through the aggregator) and prints what the server returned as JSON on stdout.
//
//	clientgo -kubeconfig FILE -namespace NS list-workflows
//	clientgo -kubeconfig FILE -namespace NS create-execution -workflow NAME [-input JSON] [-label k=v] [-dry-run]
//	clientgo -kubeconfig FILE -namespace NS list-executions [-selector SEL] [-field-selector SEL] [-limit N]
//	clientgo -kubeconfig FILE -namespace NS -timeout D watch-executions [-selector SEL] [-linger D]
//
// watch-executions runs a shared informer on workflowexecutions, built as client-go's dynamic
// informer builds it (defaults included), and prints one JSON line per informer notification
// (type Add, Update or Delete, with name, uid, phase, task phases and resourceVersion), plus
// Watching each time a watch request was answered, and Synced once the cache has synced. It exits
// 0 -linger after the first execution reached a final phase, 1 when the -timeout comes first.
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
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
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
		fmt.Fprintln(os.Stderr, "usage: clientgo [-kubeconfig FILE] [-namespace NS] list-workflows|create-execution|list-executions|watch-executions [flags]")
		os.Exit(2)
	}

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if global.Arg(0) == "watch-executions" {
		// It streams its lines itself.
		if err := watchExecutions(ctx, *kubeconfig, *namespace, global.Args()[1:]); err != nil {
			cancel()
			os.Exit(report(err))
		}
		return
	}
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

// informerLine is one line that watch-executions prints.
type informerLine struct {
	// Add, Update, Delete (informer notifications), Watching, WatchRefused or Synced.
	Type            string   `json:"type"`
	Name            string   `json:"name,omitempty"`
	UID             string   `json:"uid,omitempty"`
	Phase           string   `json:"phase,omitempty"`
	Tasks           []string `json:"tasks,omitempty"`
	ResourceVersion string   `json:"resourceVersion,omitempty"`
	// For Watching and WatchRefused: whether the request asked for a streamed initial list.
	SendInitialEvents bool   `json:"sendInitialEvents,omitempty"`
	Error             string `json:"error,omitempty"`
}

// watchExecutions runs the informer of watch-executions (see the command's doc comment).
func watchExecutions(ctx context.Context, kubeconfig, namespace string, args []string) error {
	flags := flag.NewFlagSet("watch-executions", flag.ContinueOnError)
	selector := flags.String("selector", "", "label selector")
	linger := flags.Duration("linger", 2*time.Second, "how long to keep watching after the first final phase")
	if err := flags.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("loading kubeconfig %q: %w", kubeconfig, err)
	}
	config.UserAgent = "syncflow-clientgo-e2e"
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return err
	}

	var mu sync.Mutex
	emit := func(line informerLine) {
		out, _ := json.Marshal(line)
		mu.Lock()
		defer mu.Unlock()
		fmt.Println(string(out))
	}
	resource := client.Resource(executionsResource).Namespace(namespace)
	// As dynamicinformer.NewFilteredDynamicInformer builds it, with the watch requests reported.
	listWatch := cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, options metav1.ListOptions) (runtime.Object, error) {
			options.LabelSelector = *selector
			return resource.List(ctx, options)
		},
		WatchFuncWithContext: func(ctx context.Context, options metav1.ListOptions) (watch.Interface, error) {
			options.LabelSelector = *selector
			w, err := resource.Watch(ctx, options)
			line := informerLine{
				Type:              "Watching",
				ResourceVersion:   options.ResourceVersion,
				SendInitialEvents: options.SendInitialEvents != nil && *options.SendInitialEvents,
			}
			if err != nil {
				line.Type, line.Error = "WatchRefused", err.Error()
			}
			emit(line)
			return w, err
		},
	}, client)
	informer := cache.NewSharedIndexInformerWithOptions(listWatch, &unstructured.Unstructured{},
		cache.SharedIndexInformerOptions{ObjectDescription: executionsResource.String()})

	final := make(chan struct{})
	var finalOnce sync.Once
	notify := func(kind string, obj any) {
		if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		object, ok := obj.(*unstructured.Unstructured)
		if !ok {
			emit(informerLine{Type: kind, Error: fmt.Sprintf("unexpected object %T", obj)})
			return
		}
		phase, _, _ := unstructured.NestedString(object.Object, "status", "phase")
		tasks, _, _ := unstructured.NestedSlice(object.Object, "status", "tasks")
		line := informerLine{
			Type: kind, Name: object.GetName(), UID: string(object.GetUID()),
			Phase: phase, ResourceVersion: object.GetResourceVersion(),
		}
		for _, task := range tasks {
			entry, _ := task.(map[string]any)
			line.Tasks = append(line.Tasks, fmt.Sprintf("%v:%v", entry["id"], entry["phase"]))
		}
		emit(line)
		if kind != "Delete" && phase != "" && phase != "Pending" && phase != "Running" {
			finalOnce.Do(func() { close(final) })
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { notify("Add", obj) },
		UpdateFunc: func(_, obj any) { notify("Update", obj) },
		DeleteFunc: func(obj any) { notify("Delete", obj) },
	}); err != nil {
		return err
	}
	go informer.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		return errors.New("watch-executions: the informer had not synced when the timeout came")
	}
	emit(informerLine{Type: "Synced"})
	select {
	case <-final:
	case <-ctx.Done():
		return errors.New("watch-executions: no execution reached a final phase before the timeout")
	}
	select {
	case <-time.After(*linger):
		return nil
	case <-ctx.Done():
		return errors.New("watch-executions: the timeout came during -linger")
	}
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
